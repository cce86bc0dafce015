/* In the framed registration form (public/embed.py): tell the page that frames it how tall this
   page is, so static/js/embed.js there can fit the frame to it. Sent only to the sites in
   KLYNGE_EMBED_ORIGINS (the page lists them in data-embed-parents): postMessage delivers
   nothing to any other origin. Without this script the frame keeps the height it was given. */
(function () {
  "use strict";
  if (window.parent === window) { return; }
  var root = document.documentElement;
  var parents = (root.getAttribute("data-embed-parents") || "").split(" ").filter(Boolean);
  // A page that answers a submit (the receipt): the framing page brings the frame's top into view.
  var answer = root.hasAttribute("data-embed-answer") || !!document.querySelector("[data-error-summary]");
  // Chromium ignores `autofocus` in a frame from another site: give the focus where the page
  // asks for it (the receipt's heading, a colleague row just added), as it would be on our site.
  var wanted = document.querySelector("[autofocus]");
  if (wanted && document.activeElement !== wanted) { wanted.focus(); }
  var last = 0;
  function tell(first) {
    var height = Math.ceil(document.body.getBoundingClientRect().height);
    if (height === last && !first) { return; }
    last = height;
    parents.forEach(function (origin) {
      window.parent.postMessage({ type: "klynge-embed-height", height: height, answer: first && answer }, origin);
    });
  }
  tell(true);
  if (window.ResizeObserver) {
    new ResizeObserver(function () { tell(false); }).observe(document.body);
  } else {
    window.addEventListener("resize", function () { tell(false); });
  }
})();
