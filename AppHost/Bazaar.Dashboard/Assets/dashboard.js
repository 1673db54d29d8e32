// Live updates without blazor.web.js: every element with data-live (and an id) is refreshed by fetching
// the same URL again and swapping in the element of the same id. Open <details> stay open, and a log view
// scrolled to its bottom stays at the bottom.
(function () {
  const interval = Number(document.body.dataset.liveInterval || 1500);
  let busy = false;

  async function refresh() {
    const regions = document.querySelectorAll('[data-live][id]');
    if (busy || regions.length === 0 || document.hidden) return;
    if (document.activeElement && document.activeElement.closest('[data-live]') && document.activeElement.matches('input, select, textarea')) return;
    busy = true;
    try {
      const response = await fetch(location.href, { headers: { 'X-Bazaar-Live': '1' }, credentials: 'same-origin' });
      if (!response.ok) return;
      const page = new DOMParser().parseFromString(await response.text(), 'text/html');
      for (const region of regions) {
        const fresh = page.getElementById(region.id);
        if (!fresh) continue;
        const open = new Set([...region.querySelectorAll('details[open][id]')].map(d => d.id));
        const tail = region.querySelector('[data-tail]');
        const atBottom = tail && tail.scrollTop + tail.clientHeight >= tail.scrollHeight - 8;
        region.replaceWith(fresh);
        for (const id of open) { const d = document.getElementById(id); if (d) d.open = true; }
        const newTail = fresh.querySelector('[data-tail]');
        if (newTail && (atBottom || !tail)) newTail.scrollTop = newTail.scrollHeight;
      }
    } catch (e) {
      // The AppHost may be restarting; try again on the next tick.
    } finally {
      busy = false;
    }
  }

  for (const tail of document.querySelectorAll('[data-tail]')) tail.scrollTop = tail.scrollHeight;
  setInterval(refresh, interval);
})();
