/* Switchboard chat widget loader.
   Embed: <script src="{host}/widget.js" data-channel="{public key}" async></script>
   Host API: Switchboard('open' | 'close' | 'reset' | 'setUser', {...} | 'on', name, fn). */
(function (w, d) {
  "use strict";
  var me = d.currentScript;
  if (!me || (w.Switchboard && w.Switchboard.sb)) return;
  var origin = new URL(me.src, location.href).origin;
  var key = me.getAttribute("data-channel") || "";
  var stub = w.Switchboard, queue = [], handlers = {}, ready = false;
  var open = false, left = false;
  var box = d.createElement("div"), frame = d.createElement("iframe");

  // Inline !important styles: the host page's CSS cannot reach these.
  function css(el, props) {
    for (var k in props) el.style.setProperty(k, String(props[k]), "important");
  }
  var reset = {
    margin: 0, padding: 0, border: 0, outline: 0, background: "transparent",
    "box-sizing": "border-box", "box-shadow": "none", transform: "none", filter: "none",
    opacity: 1, visibility: "visible", float: "none", "clip-path": "none", transition: "none",
    "min-width": 0, "min-height": 0, "max-width": "none", "max-height": "none",
    "pointer-events": "auto", display: "block", overflow: "visible"
  };
  box.id = "switchboard-widget";
  frame.id = "switchboard-frame";
  frame.title = "Chat";
  frame.src = origin + "/widget/frame/" + encodeURIComponent(key) + "/";
  css(box, reset);
  css(frame, reset);
  css(box, { position: "fixed", "z-index": 2147483000 });
  css(frame, { position: "static", width: "100%", height: "100%", "color-scheme": "normal" });

  function post(msg) {
    if (frame.contentWindow) frame.contentWindow.postMessage(msg, origin);
  }

  function layout() {
    var full = open && Math.min(w.innerWidth, screen.width) < 480;
    css(box, {
      width: full ? "100%" : open ? "412px" : "96px",
      height: full ? "100%" : open ? Math.min(720, w.innerHeight) + "px" : "96px",
      top: full ? 0 : "auto",
      bottom: 0,
      left: full || left ? 0 : "auto",
      right: full || !left ? 0 : "auto"
    });
    if (ready) post({ type: "sb:viewport", full: full });
  }

  function hostInfo() {
    post({ type: "sb:host", url: location.href, title: d.title, referrer: d.referrer });
  }

  w.addEventListener("message", function (e) {
    if (e.source !== frame.contentWindow || e.origin !== origin) return;
    var m = e.data || {};
    if (m.type === "sb:ready") {
      ready = true;
      hostInfo();
      queue.splice(0).forEach(post);
    } else if (m.type === "sb:layout") {
      open = !!m.open;
      left = m.position === "left";
      if (open) hostInfo();
      layout();
    } else if (m.type === "sb:event") {
      (handlers[m.name] || []).forEach(function (fn) {
        try { fn(m.data); } catch (err) { setTimeout(function () { throw err; }); }
      });
    }
  });
  w.addEventListener("resize", layout);

  function api(cmd, arg, fn) {
    if (cmd === "on") {
      if (typeof fn === "function") (handlers[arg] = handlers[arg] || []).push(fn);
      return;
    }
    var msg = { type: "sb:cmd", cmd: String(cmd) };
    try { msg.arg = arg == null ? null : JSON.parse(JSON.stringify(arg)); } catch (err) { return; }
    if (ready) post(msg); else queue.push(msg);
  }
  api.sb = 1;
  w.Switchboard = api;
  var q = (stub && stub.q) || [];
  for (var i = 0; i < q.length; i++) api.apply(null, q[i]);

  layout();
  box.appendChild(frame);
  function mount() { d.body.appendChild(box); }
  if (d.body) mount(); else d.addEventListener("DOMContentLoaded", mount);
})(window, document);
