(minRatio) => {
  // Text elements whose contrast with their effective background is under `minRatio`
  // (WCAG 2 relative luminance): the colour from computed styles, ancestors' opacity
  // applied; the background composited from the ancestors' background colours up to the
  // first opaque one (white page below). Used by tests/test_ui_browser.py.
  const parse = (c) => {
    const m = c.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    const p = m[1].split(/[ ,\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, bottom) => {
    const a = top[3];
    return [0, 1, 2].map((i) => top[i] * a + bottom[i] * (1 - a)).concat([1]);
  };
  const lum = (c) => {
    const [r, g, b] = c.slice(0, 3).map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const background = (el) => {
    const layers = [];
    for (let n = el; n; n = n.parentElement) {
      const bg = parse(getComputedStyle(n).backgroundColor);
      if (bg && bg[3] > 0) {
        layers.push(bg);
        if (bg[3] >= 1) break;
      }
    }
    let color = [255, 255, 255, 1];
    for (const layer of layers.reverse()) color = over(layer, color);
    return color;
  };
  const opacity = (el) => {
    let o = 1;
    for (let n = el; n; n = n.parentElement) o *= parseFloat(getComputedStyle(n).opacity);
    return o;
  };
  const offenders = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  for (let t = walker.nextNode(); t; t = walker.nextNode()) {
    if (!t.textContent.trim()) continue;
    const el = t.parentElement;
    if (!el || seen.has(el)) continue;
    seen.add(el);
    const style = getComputedStyle(el);
    if (style.visibility === "hidden" || el.closest("[aria-hidden=true], .sr-only, script, style")) continue;
    const rects = el.getClientRects();
    if (!rects.length || rects[0].width < 1 || rects[0].height < 1) continue;
    if (el.closest("button:disabled, [disabled], .hide")) continue;
    const fg = parse(style.color);
    if (!fg) continue;
    const bg = background(el);
    const text = over([fg[0], fg[1], fg[2], fg[3] * opacity(el)], bg);
    const [hi, lo] = [lum(text), lum(bg)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    if (ratio < minRatio) {
      const id = (el.closest("[id]") || {}).id || "";
      offenders.push(`${ratio.toFixed(2)} ${el.tagName.toLowerCase()}.${[...el.classList].join(".")} #${id} ${style.color} on rgb(${bg.slice(0,3).map(Math.round)}) "${t.textContent.trim().slice(0, 40)}"`);
    }
  }
  return offenders;
}
