/* Kiosque IP's own script, loaded after htmx on every page (the CSP forbids inline scripts).
 *
 * - The idle countdown: shows the time left before automatic logout, announces the last minute
 *   in an aria-live region with a "Rester connecté" button, then posts the logout form. The
 *   server ends the session on its own too (kiosk/session_guard.py); this only shows it.
 * - Marks htmx requests that no user action triggered (polling) with X-Kiosk-Background, so
 *   that the server does not count them as activity.
 * - Resubmits the form normally when an htmx response carries X-Kiosk-Page-Expired (a failed
 *   CSRF check), so that the page comes back with the student's choices.
 * - The print button: data-print instead of an inline onclick.
 */
(function () {
  "use strict";

  var BACKGROUND_HEADER = "X-Kiosk-Background";
  var PAGE_EXPIRED_HEADER = "X-Kiosk-Page-Expired";
  var TICK_MILLISECONDS = 1000;

  function formatTime(seconds) {
    var minutes = Math.floor(seconds / 60);
    var rest = seconds % 60;
    return minutes + ":" + (rest < 10 ? "0" : "") + rest;
  }

  function IdleCountdown(element) {
    this.element = element;
    this.idleSeconds = parseInt(element.dataset.idleSeconds, 10);
    this.warningSeconds = parseInt(element.dataset.warningSeconds, 10);
    this.timeText = element.querySelector(".idle-time");
    this.announcement = element.querySelector(".idle-announcement");
    this.extendButton = element.querySelector(".idle-extend");
    this.logoutForm = element.querySelector(".idle-logout");
    this.isChecking = false;
    this.restart(this.idleSeconds);
  }

  IdleCountdown.prototype.restart = function (seconds) {
    this.deadline = Date.now() + seconds * 1000;
    this.isWarning = false;
    this.element.classList.remove("idle-countdown-warning");
    this.extendButton.hidden = true;
    this.announcement.textContent = "";
    this.render();
  };

  IdleCountdown.prototype.secondsLeft = function () {
    return Math.max(0, Math.ceil((this.deadline - Date.now()) / 1000));
  };

  IdleCountdown.prototype.render = function () {
    this.timeText.textContent = formatTime(this.secondsLeft());
  };

  IdleCountdown.prototype.tick = function () {
    var left = this.secondsLeft();
    this.render();
    if (left <= 0) {
      this.expire();
    } else if (left <= this.warningSeconds && !this.isWarning) {
      this.warn();
    }
  };

  IdleCountdown.prototype.warn = function () {
    this.isWarning = true;
    this.element.classList.add("idle-countdown-warning");
    this.extendButton.hidden = false;
    // Set once, so that screen readers announce it once rather than every second.
    this.announcement.textContent = this.element.dataset.warningText;
  };

  // Log out when the server's time is up too, since another tab of the same session may have
  // been active meanwhile.
  IdleCountdown.prototype.expire = function () {
    var countdown = this;
    if (countdown.isChecking) {
      return;
    }
    countdown.isChecking = true;
    fetchRemainingSeconds(countdown.element.dataset.statusUrl).then(function (remaining) {
      countdown.isChecking = false;
      if (remaining > 0) {
        countdown.restart(remaining);
      } else {
        countdown.logoutForm.submit();
      }
    });
  };

  IdleCountdown.prototype.extend = function () {
    var countdown = this;
    var token = countdown.logoutForm.querySelector("input[name=csrf_token]").value;
    fetch(countdown.element.dataset.extendUrl, {
      method: "POST",
      headers: {"X-CSRFToken": token},
      credentials: "same-origin",
      redirect: "manual",
    }).then(function (response) {
      if (response.status === 204) {
        countdown.restart(countdown.idleSeconds);
      } else {
        countdown.logoutForm.submit();
      }
    }, function () {
      countdown.logoutForm.submit();
    });
  };

  // Resolve to the seconds left in the session according to the server, or 0 on any failure.
  function fetchRemainingSeconds(url) {
    var headers = {};
    headers[BACKGROUND_HEADER] = "true";
    return fetch(url, {headers: headers, credentials: "same-origin", redirect: "manual"})
      .then(function (response) {
        return response.ok ? response.json() : {remaining_seconds: 0};
      })
      .then(function (body) {
        return body.remaining_seconds || 0;
      }, function () {
        return 0;
      });
  }

  function startCountdown() {
    var element = document.getElementById("idle-countdown");
    if (!element) {
      return null;
    }
    var countdown = new IdleCountdown(element);
    element.hidden = false;
    countdown.extendButton.addEventListener("click", function () {
      countdown.extend();
    });
    window.setInterval(function () {
      countdown.tick();
    }, TICK_MILLISECONDS);
    return countdown;
  }

  function listenToHtmx(countdown) {
    document.body.addEventListener("htmx:configRequest", function (event) {
      // htmx passes no triggering event for polling ("every 20s"), which no user action caused.
      if (!event.detail.triggeringEvent) {
        event.detail.headers[BACKGROUND_HEADER] = "true";
      }
    });
    document.body.addEventListener("htmx:afterRequest", function (event) {
      var headers = event.detail.requestConfig && event.detail.requestConfig.headers;
      var isBackground = headers && headers[BACKGROUND_HEADER] === "true";
      if (countdown && !isBackground && event.detail.xhr.status !== 401) {
        countdown.restart(countdown.idleSeconds);
      }
    });
    document.body.addEventListener("htmx:responseError", function (event) {
      if (!event.detail.xhr.getResponseHeader(PAGE_EXPIRED_HEADER)) {
        return;
      }
      var form = event.detail.elt.closest("form");
      if (form) {
        form.submit();
      } else {
        window.location.reload();
      }
    });
  }

  function listenToPrintButtons() {
    document.addEventListener("click", function (event) {
      if (event.target.closest("[data-print]")) {
        window.print();
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var countdown = startCountdown();
    listenToHtmx(countdown);
    listenToPrintButtons();
  });
})();
