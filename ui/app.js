() => {
  if (window.__ragCitations) return;
  window.__ragCitations = true;

  // A text box's accessible name is its label alone ("Question"), not the label plus the
  // submit button inside it ("Question Ask") nor Gradio's "Textbox" for a hidden label.
  const nameFields = () => {
    document.querySelectorAll("label textarea, label input[type=text]").forEach((field) => {
      const label = field.closest("label").querySelector('[data-testid="block-info"]');
      const name = label && label.textContent.trim();
      if (name && field.getAttribute("aria-label") !== name) field.setAttribute("aria-label", name);
    });
  };
  let naming = false;
  new MutationObserver(() => {
    if (naming) return;
    naming = true;
    requestAnimationFrame(() => {
      naming = false;
      nameFields();
    });
  }).observe(document.body, { childList: true, subtree: true });
  nameFields();

  // A citation link `[n]` (href="#source-n") scrolls its source card into view, opens any
  // collapsed section around it and flashes it; a "Sources" link under an answer
  // (href="#answer-source-…list") does the same for the answer's group of cards. Handled here, in
  // the capture phase, so neither the chatbot nor the browser turns it into a navigation.
  document.addEventListener(
    "click",
    (event) => {
      const target = event.target;
      if (!(target instanceof Element)) return;
      const link = target.closest('a[href^="#source-"], a[href^="#related-"], a[href^="#answer-"]');
      if (!link) return;
      const id = decodeURIComponent(link.getAttribute("href").slice(1));
      const card = document.getElementById(id);
      event.preventDefault();
      event.stopPropagation();
      if (!card) return;
      for (let node = card; node; node = node.parentElement) {
        if (node.tagName === "DETAILS") node.open = true;
      }
      const group = id.startsWith("answer-"); // an answer's group of cards, not one card
      if (!group) {
        document.querySelectorAll(".source-card.active").forEach((c) => c.classList.remove("active"));
        card.classList.add("active");
      }
      card.scrollIntoView({ behavior: "smooth", block: group ? "start" : "center" });
      card.classList.remove("flash");
      void card.offsetWidth;
      card.classList.add("flash");
      if (history.replaceState) history.replaceState(null, "", "#" + id);
    },
    true
  );

  // "Copy message" copies plain text. Gradio copies the message's Markdown source (links,
  // escapes); an answer carries its plain text, with its references, in a hidden
  // span.copy-text (ui.render.copy_text_span); any other message copies as it reads.
  const messageOf = (button) => {
    for (let node = button; node && node.id !== "chat"; node = node.parentElement) {
      for (let row = node.previousElementSibling; row; row = row.previousElementSibling) {
        const found = row.matches("[data-testid=bot], [data-testid=user]")
          ? [row]
          : row.querySelectorAll("[data-testid=bot], [data-testid=user]");
        if (found.length) return found[found.length - 1];
      }
    }
    return null;
  };
  const plainText = (message) => {
    const carrier = message.querySelector("span.copy-text[title]");
    if (carrier) return carrier.getAttribute("title");
    const content = message.querySelector(".message-content") || message;
    return content.innerText.trim();
  };
  document.addEventListener(
    "click",
    (event) => {
      const target = event.target;
      if (!(target instanceof Element)) return;
      const button = target.closest('#chat button[aria-label="Copy message"]');
      if (!button) return;
      const message = messageOf(button);
      if (!message) return; // Gradio's own copy goes ahead
      event.preventDefault();
      event.stopPropagation();
      const text = plainText(message);
      navigator.clipboard.writeText(text).then(
        () => {
          button.setAttribute("title", "Copied");
          button.classList.add("copied");
          setTimeout(() => {
            button.setAttribute("title", "Copy message");
            button.classList.remove("copied");
          }, 1500);
        },
        (error) => console.error("copy failed", error)
      );
    },
    true
  );

  // Screen readers get the message as it reads, not its Markdown source.
  const relabel = () => {
    document.querySelectorAll("#chat [data-testid=bot], #chat [data-testid=user]").forEach((m) => {
      const role = m.getAttribute("data-testid");
      const content = m.querySelector(".message-content") || m;
      const label = `${role}'s message: ${content.innerText.trim()}`;
      if (m.getAttribute("aria-label") !== label) m.setAttribute("aria-label", label);
    });
  };
  let pending = false;
  new MutationObserver(() => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      relabel();
    });
  }).observe(document.body, {
    subtree: true,
    childList: true,
    characterData: true,
    attributes: true,
    attributeFilter: ["aria-label"],
  });
}
