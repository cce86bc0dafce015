// Check-in at the door: filter as you type, check in and undo without reloading, print.
// Progressive enhancement: without this file the search is a GET form and the buttons post.
(function () {
  "use strict";

  var search = document.querySelector("[data-checkin-search]");
  var list = document.querySelector(".checkin-list");
  var found = document.querySelector("[data-checkin-found]");
  var empty = document.querySelector("[data-checkin-empty]");
  var live = document.querySelector("[data-checkin-live]");

  // The words come from the page (data-* attributes), in the organiser's language.
  function countText(kind, count) {
    var template = found.getAttribute("data-" + kind + "-" + (count === 1 ? "one" : "other")) || "";
    return template.replace("{n}", count);
  }

  function filter() {
    var words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    list.querySelectorAll("li[data-search]").forEach(function (row) {
      var text = row.getAttribute("data-search");
      var match = words.every(function (word) { return text.indexOf(word) !== -1; });
      row.hidden = !match;
      if (match) { shown += 1; }
    });
    if (found) {
      found.textContent = countText(words.length ? "found" : "all", shown);
    }
    if (empty) { empty.hidden = shown > 0; }
  }

  function send(form) {
    var row = form.closest("li");
    var button = form.querySelector("button");
    button.disabled = true;
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { "Accept": "application/json" },
      credentials: "same-origin"
    }).then(function (response) {
      return response.json().then(function (data) { return { ok: response.ok, data: data }; });
    }).then(function (result) {
      if (!result.ok) {
        button.disabled = false;
        if (live) { live.textContent = result.data.error || live.getAttribute("data-error") || ""; }
        return;
      }
      var holder = document.createElement("ul");
      holder.innerHTML = result.data.row;
      var fresh = holder.firstElementChild;
      row.replaceWith(fresh);
      fresh.querySelector("button").focus();
      var attended = document.querySelector("[data-attended]");
      if (attended) { attended.textContent = result.data.attended; }
      if (live) { live.textContent = result.data.message; }
      if (search) { filter(); }
    }).catch(function () {
      form.submit(); // the network or the server failed: fall back to an ordinary post
    });
  }

  if (search && list) {
    search.addEventListener("input", filter);
    // Filtering happens as you type; Enter should not reload the page.
    search.form.addEventListener("submit", function (event) { event.preventDefault(); filter(); });
    list.addEventListener("submit", function (event) {
      var form = event.target.closest("form[data-checkin]");
      if (!form || !window.fetch) { return; }
      event.preventDefault();
      send(form);
    });
  }

  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
})();
