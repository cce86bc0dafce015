/* Keeps the sending figures on an announcement's page up to date without reloading.
   Without JavaScript the page shows the figures from when it was loaded and an "Oppdater" link.
   The words come from the page (data-label-* attributes), in the organiser's language. */
(function () {
  "use strict";
  var box = document.querySelector("[data-progress-url]");
  if (!box || !window.fetch) { return; }
  var url = box.getAttribute("data-progress-url");
  var bar = box.querySelector("[data-progress-bar]");
  var status = box.querySelector("[data-progress-status]");
  var delay = 2000;

  function showDone(failed) {
    status.textContent = box.getAttribute("data-label-done") || "";
    var failedUrl = box.getAttribute("data-failed-url");
    if (failed && failedUrl) {
      var link = document.createElement("a");
      link.href = failedUrl;
      link.textContent = box.getAttribute("data-label-failed") || "";
      status.appendChild(document.createTextNode(" "));
      status.appendChild(link);
      status.appendChild(document.createTextNode("."));
    }
  }

  function show(data) {
    ["pending", "sent", "failed"].forEach(function (name) {
      var cell = box.querySelector('[data-count="' + name + '"]');
      if (cell) { cell.textContent = String(data[name]); }
    });
    if (bar) {
      bar.max = Math.max(data.total, 1);
      bar.value = data.sent + data.failed;
    }
    if (data.done && status) { showDone(data.failed); }
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      })
      .then(function (data) {
        show(data);
        if (!data.done) { window.setTimeout(poll, delay); }
      })
      .catch(function () {
        // Offline or logged out: try again, less often; the "Oppdater" link still works.
        window.setTimeout(poll, 10000);
      });
  }

  window.setTimeout(poll, delay);
}());
