"""The prompt templates, one Markdown file each (rendered by `rag.prompts`).

A package only so the files ship in the wheel and are found through importlib.resources
wherever `rag` is installed; there is no code here."""
