// The host page's own use of the widget's JS API. The stub queues calls made before the
// async widget.js has loaded; the widget replays them.
window.Switchboard =
  window.Switchboard ||
  function () {
    (window.Switchboard.q = window.Switchboard.q || []).push(arguments);
  };
document.getElementById("demo-open").addEventListener("click", () => Switchboard("open"));
document.getElementById("demo-close").addEventListener("click", () => Switchboard("close"));
