/* Kiosk pages: idle countdown and sign-out, 大字模式, on-screen keyboard, sign-in (ID card
   through the local agent, or a one-time QR for the WeChat mini-program) and printing through
   the agent. Plain JavaScript, no build step. */
(function () {
  "use strict";

  var body = document.body;
  var page = body.dataset.page || "";
  var agent = body.dataset.agent || "/agent";
  var signedIn = body.dataset.signedIn === "1";
  var signoutUrl = body.dataset.signout || "/kiosk/signout";
  var homeUrl = body.dataset.home || "/kiosk/";
  var $ = function (id) { return document.getElementById(id); };

  // A page restored from the back/forward cache may show an earlier citizen's data: reload it
  // from the server, which answers with the idle screen once the session has ended.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) { window.location.reload(); }
  });

  function json(url, payload, method) {
    return fetch(url, {
      method: method || "POST",
      headers: { "Accept": "application/json", "Content-Type": "application/json" },
      credentials: "same-origin",
      cache: "no-store",
      body: payload === undefined ? undefined : JSON.stringify(payload)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { status: response.status, ok: response.ok, data: data };
      });
    });
  }

  function errorText(result, fallback) {
    return (result && result.data && result.data.error && result.data.error.message) || fallback;
  }

  // --- 大字模式 ------------------------------------------------------------------------------
  var large = $("large-text");
  function applyLarge(on) {
    document.documentElement.classList.toggle("large", on);
    if (large) { large.setAttribute("aria-pressed", on ? "true" : "false"); }
  }
  applyLarge(sessionStorage.getItem("kiosk.large") === "1");
  if (large) {
    large.addEventListener("click", function () {
      var on = !document.documentElement.classList.contains("large");
      sessionStorage.setItem("kiosk.large", on ? "1" : "0");
      applyLarge(on);
    });
  }

  // --- sign-out page: clear what the browser keeps, then back to the idle screen ----------
  if (page === "signout") {
    try { sessionStorage.clear(); localStorage.clear(); } catch (e) { /* storage disabled */ }
    if (window.caches && caches.keys) {
      caches.keys().then(function (keys) { keys.forEach(function (key) { caches.delete(key); }); });
    }
    setTimeout(function () { window.location.replace(homeUrl); }, 1500);
    return;
  }
  if (page === "paused") {
    // Ask again now and then: once staff enable the kiosk, the idle screen comes back by itself.
    setTimeout(function () { window.location.reload(); }, 30000);
    return;
  }

  // --- idle countdown --------------------------------------------------------------------
  var timeout = parseInt(body.dataset.idleTimeout || "60", 10);
  var warning = Math.min(parseInt(body.dataset.idleWarning || "15", 10), timeout);
  var lastActivity = Date.now();
  var lastTouchSent = Date.now();
  var countdown = $("countdown");
  var overlay = $("idle-warning");
  var seconds = $("idle-seconds");
  window.kioskBusy = false; // printing: nobody needs to touch the screen meanwhile

  function activity() {
    lastActivity = Date.now();
    if (overlay) { overlay.hidden = true; }
    // Keep the server-side session alive while the citizen works on one page.
    if (signedIn && Date.now() - lastTouchSent > 15000) {
      lastTouchSent = Date.now();
      json("/kiosk/api/touch", {}).then(function (result) {
        if (result.ok && result.data.signed_in === false) { endNow(); }
      });
    }
  }
  ["pointerdown", "keydown", "touchstart", "input", "wheel"].forEach(function (name) {
    document.addEventListener(name, activity, { passive: true, capture: true });
  });
  if ($("idle-continue")) { $("idle-continue").addEventListener("click", activity); }

  function endNow() { window.location.replace(signoutUrl + "?reason=idle"); }

  var timed = page !== "home" || signedIn;
  if (timed) {
    var tick = function () {
      if (window.kioskBusy) { lastActivity = Date.now(); }
      var left = Math.max(0, Math.ceil(timeout - (Date.now() - lastActivity) / 1000));
      if (countdown) {
        countdown.hidden = false;
        countdown.textContent = "剩余 " + left + " 秒";
      }
      if (left <= warning && overlay) {
        overlay.hidden = false;
        seconds.textContent = String(left);
      }
      if (left <= 0) { endNow(); }
    };
    tick();
    setInterval(tick, 250);
  }

  // --- on-screen keyboard ----------------------------------------------------------------
  Array.prototype.forEach.call(document.querySelectorAll(".osk"), function (osk) {
    var input = $(osk.dataset.target);
    document.querySelectorAll("input[inputmode='none']").forEach(function (field) {
      field.addEventListener("focus", function () { input = field; });
    });
    osk.addEventListener("click", function (event) {
      var key = event.target.closest(".key");
      if (!key || !input) { return; }
      var max = input.maxLength > 0 ? input.maxLength : 200;
      if (key.dataset.action === "backspace") {
        input.value = Array.from(input.value).slice(0, -1).join("");
      } else if (key.dataset.action === "clear") {
        input.value = "";
      } else if ((input.value + key.dataset.key).length <= max) {
        input.value += key.dataset.key;
      }
      input.dispatchEvent(new Event("input", { bubbles: true }));
    });
  });

  // --- progress dialog -------------------------------------------------------------------
  var progress = $("progress");
  function showProgress(title, text, done) {
    progress.hidden = false;
    $("progress-title").textContent = title;
    $("progress-text").textContent = text;
    $("progress-actions").hidden = !done;
    if (done) { $("progress-close").focus(); }
  }
  if ($("progress-close")) {
    $("progress-close").addEventListener("click", function () {
      progress.hidden = true;
      window.location.reload();
    });
  }

  // --- sign-in ---------------------------------------------------------------------------
  var signin = $("signin");
  if (signin) {
    var next = signin.dataset.next || "/kiosk/mine";
    var cardStatus = $("card-status");
    var qrStatus = $("qr-status");
    var qrImage = $("qr-image");
    var refresh = $("qr-refresh");
    var ticket = null;
    var expiresAt = 0;
    var done = false;

    var pollCard = function () {
      if (done) { return; }
      json(agent + "/read-card", {}).then(function (result) {
        if (result.ok && result.data.signed_in) {
          done = true;
          cardStatus.textContent = "身份核验通过，正在进入…";
          window.location.replace(next);
          return;
        }
        if (result.data && result.data.reading) {
          cardStatus.textContent = "已读取身份证，正在核验…";
        } else if (!result.ok) {
          cardStatus.textContent = errorText(result, "读卡失败，请重新放置身份证");
        }
        setTimeout(pollCard, 1000);
      }).catch(function () {
        cardStatus.textContent = "读卡器服务未启动，请使用微信扫码或联系工作人员";
        setTimeout(pollCard, 3000);
      });
    };

    var newTicket = function () {
      refresh.hidden = true;
      qrStatus.textContent = "正在生成二维码…";
      json("/kiosk/api/signin/qr", {}).then(function (result) {
        if (!result.ok) {
          qrStatus.textContent = errorText(result, "二维码生成失败");
          refresh.hidden = false;
          return;
        }
        ticket = result.data.ticket;
        qrImage.src = result.data.image;
        qrImage.dataset.content = result.data.qr;
        expiresAt = Date.now() + result.data.expires_in * 1000;
        qrStatus.textContent = "请用微信扫码";
        pollTicket();
      });
    };

    var pollTicket = function () {
      if (done || !ticket) { return; }
      var current = ticket;
      var left = Math.ceil((expiresAt - Date.now()) / 1000);
      if (left <= 0) {
        qrStatus.textContent = "二维码已过期，请点击刷新";
        refresh.hidden = false;
        ticket = null;
        return;
      }
      json("/kiosk/api/signin/qr/poll", { ticket: current }).then(function (result) {
        if (current !== ticket) { return; }
        if (result.status === 200 && result.data.signed_in) {
          done = true;
          qrStatus.textContent = "已确认，正在进入…";
          window.location.replace(next);
        } else if (result.status === 202) {
          qrStatus.textContent = "请用微信扫码（" + left + " 秒内有效）";
          setTimeout(pollTicket, 1500);
        } else {
          qrStatus.textContent = errorText(result, "二维码无效，请刷新");
          refresh.hidden = false;
          ticket = null;
        }
      });
    };

    refresh.addEventListener("click", newTicket);
    pollCard();
    newTicket();
  }

  // --- printing through the agent ----------------------------------------------------------
  function printJob(start) {
    window.kioskBusy = true;
    showProgress("正在出具", "正在生成文件，请稍候…", false);
    start.then(function (result) {
      if (!result.ok) { throw new Error(errorText(result, "出具失败，请稍后重试")); }
      showProgress("正在打印", "正在打印，请稍候，不要离开…", false);
      return json(agent + "/print", { job: result.data.job });
    }).then(function (result) {
      window.kioskBusy = false;
      var text = (result.data && result.data.message) || errorText(result, "打印失败，请联系工作人员");
      showProgress(result.ok && result.data.done ? "打印完成" : "未能打印", text, true);
    }).catch(function (error) {
      window.kioskBusy = false;
      showProgress("未能打印", error.message || "打印服务未启动，请联系工作人员", true);
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-print]"), function (button) {
    button.addEventListener("click", function () {
      printJob(json("/kiosk/api/print", { kind: button.dataset.print, subject: parseInt(button.dataset.subject, 10) }));
    });
  });
  Array.prototype.forEach.call(document.querySelectorAll("[data-receipt]"), function (button) {
    button.addEventListener("click", function () {
      printJob(json("/kiosk/api/cases/" + encodeURIComponent(button.dataset.receipt) + "/receipt", {}));
    });
  });

  var scanner = document.querySelector("[data-scanner]");
  if (scanner) { scanner.focus(); }
})();
