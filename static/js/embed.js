/* For the network's own site, beside the registration form's <iframe> (the snippet on the
   organisers' page of a gathering): fits each frame of ours to the height of the form in it,
   and brings the frame's top into view when it shows an answer (the receipt, or what to fix).
   Listens only to messages from the origin this script was loaded from, and only from the
   frame each one names. Optional: without it the frame keeps the height it was given. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !window.URL) { return; }
  var origin = new URL(script.src, document.baseURI).origin;
  window.addEventListener("message", function (event) {
    var data = event.data;
    if (event.origin !== origin || !data || data.type !== "klynge-embed-height") { return; }
    var frames = document.getElementsByTagName("iframe");
    for (var i = 0; i < frames.length; i++) {
      if (frames[i].contentWindow !== event.source) { continue; }
      var height = Math.ceil(Number(data.height));
      if (height > 0 && height < 100000) { frames[i].style.height = height + "px"; }
      if (data.answer && frames[i].getBoundingClientRect().top < 0) { frames[i].scrollIntoView(); }
    }
  });
})();
