// Trades a login token for a session cookie. The token comes from the
// URL's fragment (never sent to a server) or the form.
"use strict";
(function () {
  const form = document.getElementById("login-form");
  const errorBox = document.getElementById("login-error");

  async function login(token) {
    errorBox.textContent = "";
    let resp;
    // A request cut by a network change never reached the server (the
    // token is unspent): try it a few times.
    for (let attempt = 0; ; attempt++) {
      try {
        resp = await fetch("/login", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          credentials: "same-origin",
          body: JSON.stringify({ token: token }),
        });
        break;
      } catch (e) {
        if (attempt === 3) {
          errorBox.textContent = "Cannot reach the server: " + e;
          return;
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    if (resp.ok) {
      location.replace("/#/overview");
      return;
    }
    let msg = resp.statusText;
    try { msg = (await resp.json()).error || msg; } catch (e) { /* keep statusText */ }
    errorBox.textContent = msg;
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    login(document.getElementById("token").value.trim());
  });

  const m = /(?:^|&)token=([^&]+)/.exec(location.hash.slice(1));
  if (m) {
    // Forget the token from the address bar and history at once.
    history.replaceState(null, "", "/login");
    login(decodeURIComponent(m[1]));
  }
})();
