// Enhetsregisteret as you type (progressive enhancement; registry.py, public/views.org_lookup).
// When the person leaves the organisation-number field with nine digits, ask the server what
// the register says; a unit found fills in the organisation's name and sector, and the status
// line (aria-live) says so. Without JavaScript the server does the same when the form is sent.
(function () {
  "use strict";

  function setUp(status) {
    var form = status.closest("form");
    if (!form || status.dataset.orgLookupReady) return;
    status.dataset.orgLookupReady = "1";
    var number = form.querySelector('input[name="org_number"]');
    var name = form.querySelector('input[name="organisation"]');
    if (!number) return;
    var asked = "";

    number.addEventListener("change", function () {
      var digits = number.value.replace(/[\s.]/g, "");
      if (!/^[0-9]{9}$/.test(digits) || digits === asked) return;
      asked = digits;
      var url = status.dataset.orgLookupUrl.replace("000000000", digits);
      fetch(url, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (answer) {
          if (!answer || number.value.replace(/[\s.]/g, "") !== digits) return;
          if (answer.state === "found") {
            if (name && answer.name) name.value = answer.name;
            if (answer.sector) {
              var radio = form.querySelector('input[name="sector"][value="' + answer.sector + '"]');
              if (radio) radio.checked = true;
            }
          }
          status.textContent = answer.message || "";
        })
        .catch(function () { /* the server checks again when the form is sent */ });
    });
  }

  function start() {
    document.querySelectorAll("[data-org-lookup-status]").forEach(setUp);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
