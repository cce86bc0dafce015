/* Forms on every page: the error summary and, on the registration form, colleague rows.
   Everything here has a plain-HTML fallback: the summary has autofocus and its links are
   fragments, and the colleague buttons submit the form (the server adds or removes the row and
   puts the focus there). The words come from the page (data-* attributes), in its language. */
(function () {
  "use strict";

  // --- the error summary (GOV.UK / Designsystemet) ------------------------------------------
  var summary = document.querySelector("[data-error-summary]");
  if (summary) {
    if (document.activeElement !== summary) { summary.focus(); }
    summary.scrollIntoView({ block: "start" });
    summary.addEventListener("click", function (event) {
      var link = event.target.closest("a[href^='#']");
      if (!link) { return; }
      var target = document.getElementById(decodeURIComponent(link.hash.slice(1)));
      if (!target) { return; }
      event.preventDefault();
      // Show the field's label (or the group's legend) too, not just the field at the very top.
      var group = target.closest("fieldset");
      var label = document.querySelector("label[for='" + target.id + "']");
      var shown = (target.type === "radio" || target.type === "checkbox") && group ? group : (label || target);
      target.focus({ preventScroll: true });
      shown.scrollIntoView({ block: "start" });
      if (window.history && history.replaceState) { history.replaceState(null, "", link.hash); }
    });
  }

  // --- colleague rows on the registration form ----------------------------------------------
  var box = document.querySelector("[data-colleagues]");
  var template = box && box.querySelector("template[data-colleague-template]");
  if (!box || !template || !("content" in template)) { return; }
  var live = box.querySelector("[data-colleagues-live]");
  var max = parseInt(box.getAttribute("data-max"), 10) || 20;

  function words(name, number) {
    return (box.getAttribute("data-" + name) || "").replace("{n}", String(number));
  }
  function rows() { return Array.prototype.slice.call(box.querySelectorAll("[data-colleague]")); }
  function addButton() { return box.querySelector("[data-add-colleague]"); }
  function say(text) {
    if (!live) { return; }
    live.textContent = "";
    window.setTimeout(function () { live.textContent = text; }, 50);
  }
  function renumber() {
    rows().forEach(function (row, position) {
      row.querySelector("[data-colleague-legend]").textContent = words("legend", position + 1);
      row.querySelector("[data-remove-colleague]").textContent = words("remove-label", position + 1);
    });
    var add = addButton();
    if (add) { add.hidden = rows().length >= max; }
  }
  function nextIndex() {
    return rows().reduce(function (highest, row) {
      return Math.max(highest, parseInt(row.id.replace("colleague-", ""), 10));
    }, -1) + 1;
  }

  box.addEventListener("click", function (event) {
    var add = event.target.closest("[data-add-colleague]");
    var remove = event.target.closest("[data-remove-colleague]");
    if (add) {
      event.preventDefault();
      if (rows().length >= max) { return; }
      var index = String(nextIndex());
      var number = rows().length + 1;
      var holder = document.createElement("div");
      holder.innerHTML = template.innerHTML.split("__INDEX__").join(index)
        .split("__NUMBER__").join(String(number));
      var row = holder.firstElementChild;
      add.parentNode.insertBefore(row, add);
      renumber();
      row.querySelector("input, textarea").focus();
      say(words("added", number));
    } else if (remove) {
      event.preventDefault();
      var gone = remove.closest("[data-colleague]");
      var all = rows();
      var position = all.indexOf(gone);
      var next = all[position + 1];
      gone.parentNode.removeChild(gone);
      renumber();
      var focus = next ? next.querySelector("input, textarea") : addButton();
      if (focus && !focus.hidden) { focus.focus(); } else { box.focus(); }
      say(words("removed", position + 1));
    }
  });
}());
