() => {
  // A citation link `[n]` (href="#source-n") scrolls its source card into view, opens any
  // collapsed section around it and flashes it. Handled here, in the capture phase, so
  // neither the chatbot nor the browser turns it into a navigation or a new tab.
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
  document.addEventListener(
    "click",
    (event) => {
      const target = event.target;
      if (!(target instanceof Element)) return;
      const link = target.closest('a[href^="#source-"], a[href^="#related-"]');
      if (!link) return;
      const id = decodeURIComponent(link.getAttribute("href").slice(1));
      const card = document.getElementById(id);
      event.preventDefault();
      event.stopPropagation();
      if (!card) return;
      for (let node = card.parentElement; node; node = node.parentElement) {
        if (node.tagName === "DETAILS") node.open = true;
      }
      document.querySelectorAll(".source-card.active").forEach((c) => c.classList.remove("active"));
      card.classList.add("active");
      card.scrollIntoView({ behavior: "smooth", block: "center" });
      card.classList.remove("flash");
      void card.offsetWidth;
      card.classList.add("flash");
      if (history.replaceState) history.replaceState(null, "", "#" + id);
    },
    true
  );
}
