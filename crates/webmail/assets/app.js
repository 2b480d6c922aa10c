// Tern webmail: progressive enhancement only. Every page works without this script.
// - live updates: server-sent events from /events refresh the folder and message lists;
// - keyboard shortcuts: c compose, r reply, a reply all, f forward, / search, Delete delete.
(function () {
  "use strict";

  function replaceFrom(doc, id) {
    var fresh = doc.getElementById(id);
    var current = document.getElementById(id);
    if (fresh && current) {
      current.replaceWith(fresh);
    }
  }

  function anySelected() {
    return document.querySelector("#message-list input[type=checkbox]:checked") !== null;
  }

  var pending = null;
  function refresh() {
    pending = null;
    var listing = document.getElementById("listing");
    // A folder page reloads itself (unless the user is selecting); other pages only
    // refresh the side bar, from a page that changes nothing when fetched.
    var url = listing && !anySelected() ? location.href : "/folders";
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        replaceFrom(doc, "folders");
        if (url !== "/folders") {
          replaceFrom(doc, "listing");
        }
      })
      .catch(function () { /* the next event tries again */ });
  }

  function schedule() {
    if (pending === null) {
      pending = setTimeout(refresh, 250);
    }
  }

  if (window.EventSource && document.getElementById("folders")) {
    var source = new EventSource("/events");
    source.addEventListener("change", schedule);
    // Close the stream when leaving the page: browsers allow only six connections per
    // server over HTTP/1.1, and a stream left open holds one.
    window.addEventListener("pagehide", function () { source.close(); });
  }

  function click(id) {
    var el = document.getElementById(id);
    if (el) {
      el.click();
      return true;
    }
    return false;
  }

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
    var handled = false;
    switch (event.key) {
      case "c": handled = click("compose-link"); break;
      case "r": handled = click("reply"); break;
      case "a": handled = click("reply-all"); break;
      case "f": handled = click("forward"); break;
      case "Delete": handled = click("delete"); break;
      case "/":
        var search = document.querySelector("header .search input[type=search]");
        if (search) { search.focus(); handled = true; }
        break;
    }
    if (handled) event.preventDefault();
  });
})();
