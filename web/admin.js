/*
 * Frolic marketer console: campaigns, games, brands, budgets, coupon pools, game
 * status, and a live report with a pacing chart. Talks to /admin/... (docs/openapi.json).
 *
 * The ids of what was just created are published on #created-campaign,
 * #created-game and #created-brand as data-campaign-id / data-game-id /
 * data-brand-id (and only there), so a demo script or a browser test can pick them up.
 */
(function () {
  "use strict";

  var F = window.Frolic;
  var h = F.h;

  var REPORT_EVERY_MS = 2000;
  var EXPORT_POLL_MS = 1000;
  var REPORT_RETRY_MS = 5000;
  var MAX_UPLOAD_BYTES = 5 * 1024 * 1024; // the API's limit (413 beyond)
  var MAX_GENERATE = 100000;

  var $ = function (id) {
    return document.getElementById(id);
  };

  var state = {
    auth: null, // { token, userId }
    campaigns: [],
    games: {}, // campaignId -> [game]
    brands: [],
    brandNames: Object.create(null),
    report: { gameId: null, serial: 0, timer: null, last: null },
    exports: { gameId: null, serial: 0, timer: null },
    editing: null, // the game in the edit form, as the API last returned it
  };

  // ---------------------------------------------------------------- messages

  var statusNode = $("status-message");

  function say(kind, title, lines) {
    F.showMessage(statusNode, kind, title, lines);
  }

  function sayError(error, context) {
    var d = F.describeError(error);
    var title = context ? context + ": " + d.title : d.title;
    say("error", title, [d.detail].concat(d.fields));
  }

  // ---------------------------------------------------------------- API

  function api(path, options) {
    options = options || {};
    options.token = state.auth ? state.auth.token : undefined;
    return F.request(path, options).catch(function (error) {
      if (error.status === 401) sessionEnded();
      throw error;
    });
  }

  function segment(id) {
    return encodeURIComponent(id);
  }

  function requireAuth() {
    if (state.auth) return true;
    say("error", "Sign in as a marketer first.");
    $("admin-name").focus();
    return false;
  }

  // ---------------------------------------------------------------- forms

  /**
   * Run one form action: marks the form busy, clears old field marks, and on an API
   * error shows the message with the `fields` names and marks those inputs.
   * fieldMap: API field name (or prefix) -> input id.
   */
  function submitting(form, button, fieldMap, context, action) {
    if (!requireAuth()) return;
    clearMarks(fieldMap);
    button.disabled = true;
    form.setAttribute("aria-busy", "true");
    say("busy", context + "\u2026");
    var done = function () {
      button.disabled = false;
      form.removeAttribute("aria-busy");
    };
    Promise.resolve()
      .then(action)
      .then(done, function (error) {
        done();
        sayError(error, context + " failed");
        markFields(fieldMap, error.fields || []);
      });
  }

  function clearMarks(fieldMap) {
    Object.keys(fieldMap).forEach(function (key) {
      var input = $(fieldMap[key]);
      if (input) input.removeAttribute("aria-invalid");
    });
  }

  function markFields(fieldMap, fields) {
    var first = null;
    fields.forEach(function (f) {
      var name = String((f && f.field) || "");
      var best = null;
      Object.keys(fieldMap).forEach(function (key) {
        if ((name === key || name.indexOf(key + ".") === 0) && (!best || key.length > best.length)) {
          best = key;
        }
      });
      var input = best ? $(fieldMap[best]) : null;
      if (input) {
        input.setAttribute("aria-invalid", "true");
        if (!first) first = input;
      }
    });
    if (first) first.focus();
  }

  /** A client-side check failed: same look as an API field error. */
  function invalid(fieldMap, field, message) {
    var error = F.ApiError(400, "invalid_request", "", [{ field: field, message: message }]);
    throw error;
  }

  function identifier(value, fieldMap, field) {
    var id = String(value || "").trim();
    if (!F.IDENTIFIER.test(id)) invalid(fieldMap, field, id ? "is not a valid id" : "required");
    return id;
  }

  function requiredText(value, fieldMap, field) {
    var text = String(value || "").trim();
    if (!text) invalid(fieldMap, field, "required");
    return text;
  }

  function wholeNumber(value, fieldMap, field, min, max) {
    var text = String(value || "").trim();
    if (!/^\d+$/.test(text)) invalid(fieldMap, field, "enter a whole number");
    var n = Number(text);
    if (n < min || n > max) invalid(fieldMap, field, "must be between " + min + " and " + max);
    return n;
  }

  // ---------------------------------------------------------------- dates

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }

  /** A Date as a datetime-local value (local time, minutes). */
  function toLocalInput(date) {
    return (
      date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) +
      "T" + pad(date.getHours()) + ":" + pad(date.getMinutes())
    );
  }

  /** A datetime-local value to a Date in local time; null if malformed. */
  function fromLocalInput(value) {
    var m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?$/.exec(String(value || ""));
    if (!m) return null;
    var date = new Date(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0));
    return isNaN(date.getTime()) ? null : date;
  }

  /** ISO 8601 with the local offset, e.g. 2026-11-24T17:00:00+01:00. */
  function isoWithOffset(date) {
    var offset = -date.getTimezoneOffset();
    var sign = offset >= 0 ? "+" : "-";
    var abs = Math.abs(offset);
    return (
      date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) +
      "T" + pad(date.getHours()) + ":" + pad(date.getMinutes()) + ":" + pad(date.getSeconds()) +
      sign + pad(Math.floor(abs / 60)) + ":" + pad(abs % 60)
    );
  }

  function windowFrom(startId, endId, fieldMap) {
    var start = fromLocalInput($(startId).value);
    var end = fromLocalInput($(endId).value);
    if (!start) invalid(fieldMap, "startTime", "pick a start date and time");
    if (!end) invalid(fieldMap, "endTime", "pick an end date and time");
    if (end <= start) invalid(fieldMap, "endTime", "must be after the start");
    return { startTime: isoWithOffset(start), endTime: isoWithOffset(end) };
  }

  function showTime(iso) {
    var date = new Date(iso);
    if (isNaN(date.getTime())) return String(iso);
    return date.toLocaleString([], {
      year: "numeric",
      month: "short",
      day: "numeric",
      hour: "2-digit",
      minute: "2-digit",
    });
  }

  function showWindow(item) {
    return showTime(item.startTime) + " \u2013 " + showTime(item.endTime);
  }

  function fmt(n) {
    return typeof n === "number" && isFinite(n) ? n.toLocaleString() : "\u2013";
  }

  function setDefaultTimes() {
    var now = new Date();
    now.setSeconds(0, 0);
    var week = new Date(now.getTime() + 7 * 24 * 3600 * 1000);
    var hour = new Date(now.getTime() + 60 * 60 * 1000);
    [["campaign-start", now], ["campaign-end", week], ["game-start", now], ["game-end", hour]].forEach(
      function (pair) {
        if (!$(pair[0]).value) $(pair[0]).value = toLocalInput(pair[1]);
      }
    );
  }

  // ---------------------------------------------------------------- auth

  function renderAuth() {
    var signedIn = !!state.auth;
    $("admin-signin-form").hidden = signedIn;
    $("admin-signed-in").hidden = !signedIn;
    $("admin-signed-in-name").textContent = signedIn ? state.auth.userId : "";
    // Each block shows for the roles that may use it (data-roles); signed out, all do.
    document.querySelectorAll("[data-roles]").forEach(function (node) {
      node.hidden = signedIn && !node.dataset.roles.split(" ").some(hasRole);
    });
  }

  /** Whether the signed-in account is in this Cognito group (an admin is in all). */
  function hasRole(group) {
    var groups = (state.auth && state.auth.groups) || [];
    return groups.indexOf("admin") >= 0 || groups.indexOf(group) >= 0;
  }

  /** Off to the login page (Cognito's managed login, or the dev issuer locally). */
  function signIn(event) {
    event.preventDefault();
    var button = $("admin-sign-in");
    button.disabled = true;
    say("busy", "Taking you to sign in\u2026");
    F.beginSignIn("admin").catch(function (error) {
      button.disabled = false;
      sayError(error, "Sign-in failed");
    });
  }

  /** Back from the login page, or a session kept from before: show the console. */
  function resumeSession() {
    return F.finishSignIn("admin")
      .then(function (signedIn) {
        if (signedIn) say("ok", "Signed in as " + signedIn.userId + ".");
        return signedIn || F.freshSession("admin");
      })
      .catch(function (error) {
        sayError(error, "Sign-in failed");
        return null;
      });
  }

  function signOut() {
    state.auth = null;
    stopReport();
    renderAuth();
    F.replaceChildren($("campaign-list"));
    F.replaceChildren($("brand-list"));
    say("info", "Signing out\u2026");
    F.signOut("admin");
  }

  function sessionEnded() {
    if (!state.auth) return;
    state.auth = null;
    F.session.clear("admin");
    stopReport();
    renderAuth();
  }

  // ---------------------------------------------------------------- lists

  function loadAll() {
    return Promise.all([loadCampaigns(), loadBrands()]);
  }

  function loadCampaigns() {
    if (!state.auth) return Promise.resolve();
    var list = $("campaign-list");
    list.setAttribute("aria-busy", "true");
    return api("/admin/campaigns")
      .then(function (data) {
        var campaigns = (data && Array.isArray(data.items)) ? data.items : [];
        return Promise.all(
          campaigns.map(function (c) {
            return api("/admin/campaigns/" + segment(c.campaignId) + "/games").then(
              function (g) {
                return (g && Array.isArray(g.items)) ? g.items : [];
              },
              function () {
                return null; // shown as "could not load"
              }
            );
          })
        ).then(function (gameLists) {
          state.campaigns = campaigns;
          state.games = {};
          campaigns.forEach(function (c, i) {
            state.games[c.campaignId] = gameLists[i];
          });
          renderCampaigns();
        });
      })
      .catch(function (error) {
        sayError(error, "Could not load the campaigns");
      })
      .finally(function () {
        list.setAttribute("aria-busy", "false");
      });
  }

  function loadBrands() {
    if (!state.auth) return Promise.resolve();
    return api("/admin/brands")
      .then(function (data) {
        state.brands = (data && Array.isArray(data.items)) ? data.items : [];
        state.brandNames = Object.create(null);
        state.brands.forEach(function (b) {
          state.brandNames[b.brandId] = b.name;
        });
        renderBrands();
        if (state.report.last) renderReport(state.report.last);
      })
      .catch(function (error) {
        sayError(error, "Could not load the brands");
      });
  }

  function options(datalistId, items, idKey) {
    F.replaceChildren(
      $(datalistId),
      items.map(function (item) {
        return h("option", { attrs: { value: item[idKey] }, text: item.name });
      })
    );
  }

  function renderBrands() {
    options("brand-options", state.brands, "brandId");
    F.replaceChildren(
      $("brand-list"),
      state.brands.length
        ? state.brands.map(function (b) {
            return h("li", null, b.name + " \u00b7 ", h("code", { text: b.brandId }), " ",
              h("button", {
                className: "button button-quiet button-small",
                attrs: { type: "button", "aria-label": "Use brand " + b.name + " for the budget" },
                text: "Use",
                on: { click: function () { $("budget-brand").value = b.brandId; $("budget-amount").focus(); } },
              }));
          })
        : h("li", { text: "No brands yet." })
    );
  }

  var NEXT_STATUS = {
    DRAFT: [["SCHEDULED", "Schedule"], ["LIVE", "Go live"], ["ENDED", "End"]],
    SCHEDULED: [["LIVE", "Go live"], ["DRAFT", "Back to draft"], ["ENDED", "End"]],
    LIVE: [["ENDED", "End"]],
    ENDED: [],
  };

  function renderCampaigns() {
    var allGames = [];
    var items = state.campaigns.map(function (c) {
      var games = state.games[c.campaignId];
      if (games) allGames = allGames.concat(games);
      return h(
        "li",
        { className: "campaign", dataset: { campaign: c.campaignId } },
        h("div", { className: "campaign-head" },
          h("h3", { text: c.name }),
          h("code", { text: c.campaignId }),
          h("span", { className: "meta", text: showWindow(c) }),
          h("button", {
            className: "button button-quiet button-small",
            attrs: { type: "button", "aria-label": "Add a game to " + c.name },
            text: "Add a game",
            on: { click: function () { $("game-campaign").value = c.campaignId; $("game-name").focus(); } },
          })
        ),
        games === null
          ? h("p", { className: "meta", text: "Could not load this campaign's games." })
          : games.length === 0
          ? h("p", { className: "meta", text: "No games yet." })
          : h("ul", { className: "games" }, games.map(gameRow))
      );
    });
    F.replaceChildren($("campaign-list"), items.length ? items : h("li", { className: "meta", text: "No campaigns yet." }));
    options("campaign-options", state.campaigns, "campaignId");
    options("game-options", allGames, "gameId");
  }

  function gameRow(game) {
    var status = String(game.status || "DRAFT");
    var moves = NEXT_STATUS[status] || [];
    var playerLink = new URL("./", window.location.href);
    playerLink.searchParams.set("game", game.gameId);
    return h(
      "li",
      { className: "game", dataset: { game: game.gameId } },
      h("strong", { text: game.name }),
      h("span", { className: "badge badge-" + status, text: status }),
      h("code", { text: game.gameId }),
      h("span", { className: "meta", text: showWindow(game) }),
      h("span", { className: "actions" },
        h("button", {
          className: "button button-quiet button-small",
          attrs: { type: "button", "aria-label": "Use game " + game.name + " in the forms" },
          text: "Use",
          on: { click: function () { useGame(game.gameId); $("budget-brand").focus(); } },
        }),
        hasRole("admin") && h("button", {
          className: "button button-quiet button-small",
          attrs: { type: "button", "aria-label": "Edit " + game.name },
          text: "Edit",
          on: { click: function () { loadGameForEdit(game.gameId); } },
        }),
        h("button", {
          className: "button button-quiet button-small",
          attrs: { type: "button", "aria-label": "Budgets and pools of " + game.name, "aria-expanded": "false" },
          text: "Budgets",
          on: { click: function (event) { toggleBudgets(game, event.currentTarget); } },
        }),
        h("button", {
          className: "button button-quiet button-small",
          attrs: { type: "button", "aria-label": "Show the report of " + game.name },
          text: "Report",
          on: { click: function () { $("report-game").value = game.gameId; startReport(game.gameId); } },
        }),
        (hasRole("admin") ? moves : []).map(function (move) {
          return h("button", {
            className: "button button-small",
            attrs: { type: "button", "aria-label": move[1] + ": " + game.name },
            text: move[1],
            on: { click: function (event) { changeStatus(game.gameId, move[0], event.currentTarget); } },
          });
        }),
        h("a", { attrs: { href: playerLink.pathname + playerLink.search }, text: "Player page" })
      )
    );
  }

  /** The game's budgets and pools, listed under its row; each line fills the budget form. */
  function toggleBudgets(game, button) {
    var row = button.closest("li.game");
    var shown = row.querySelector(".budgets");
    if (shown) {
      shown.remove();
      button.setAttribute("aria-expanded", "false");
      return;
    }
    var list = h("ul", { className: "budgets list meta", attrs: { "aria-label": "Budgets of " + game.name } },
      h("li", { text: "Loading\u2026" }));
    row.appendChild(list);
    button.setAttribute("aria-expanded", "true");
    api("/admin/games/" + segment(game.gameId) + "/budgets").then(
      function (data) {
        var lines = (data && Array.isArray(data.items)) ? data.items : [];
        F.replaceChildren(list, lines.length ? lines.map(function (line) {
          return budgetLine(game, line);
        }) : h("li", { text: "No budgets yet: set one in Budget and coupons." }));
      },
      function (error) {
        F.replaceChildren(list, h("li", { text: "Could not load the budgets: " + (error.message || F.plainWords(error.code)) }));
      }
    );
  }

  function budgetLine(game, line) {
    var name = state.brandNames[line.brandId] || line.brandId;
    return h("li", { dataset: { brand: line.brandId } },
      h("strong", { text: name }),
      " budget " + fmt(line.budget) + ", issued " + fmt(line.issued) + ", pool " + fmt(line.poolSize) +
        (line.counters > 1 ? " (" + fmt(line.counters) + " counters)" : "") + " ",
      h("button", {
        className: "button button-quiet button-small",
        attrs: { type: "button", "aria-label": "Use " + name + " in " + game.name + " for the budget, offer and codes" },
        text: "Use",
        on: {
          click: function () {
            useGame(game.gameId);
            $("budget-brand").value = line.brandId;
            $("budget-amount").value = String(line.budget);
            $("budget-amount").focus();
          },
        },
      }));
  }

  function useGame(gameId) {
    ["status-game", "budget-game", "report-game"].forEach(function (id) {
      $(id).value = gameId;
    });
  }

  // ---------------------------------------------------------------- create

  function published(nodeId, attr, id, label) {
    var node = $(nodeId);
    node.setAttribute(attr, id);
    F.replaceChildren(node, label + " ", h("code", { text: id }));
  }

  function unpublish(nodeId, attr) {
    var node = $(nodeId);
    node.removeAttribute(attr);
    F.replaceChildren(node);
  }

  var CAMPAIGN_FIELDS = { name: "campaign-name", startTime: "campaign-start", endTime: "campaign-end" };

  function createCampaign(event) {
    event.preventDefault();
    submitting($("campaign-form"), $("create-campaign"), CAMPAIGN_FIELDS, "Creating the campaign", function () {
      unpublish("created-campaign", "data-campaign-id");
      var body = { name: requiredText($("campaign-name").value, CAMPAIGN_FIELDS, "name") };
      var w = windowFrom("campaign-start", "campaign-end", CAMPAIGN_FIELDS);
      body.startTime = w.startTime;
      body.endTime = w.endTime;
      return api("/admin/campaigns", { method: "POST", json: body }).then(function (campaign) {
        published("created-campaign", "data-campaign-id", campaign.campaignId, "Campaign \u201c" + campaign.name + "\u201d created:");
        $("game-campaign").value = campaign.campaignId;
        say("ok", "Campaign created. Add a game to it next.");
        loadCampaigns(); // the form is free again at once; the lists follow
      });
    });
  }

  var GAME_FIELDS = {
    campaignId: "game-campaign",
    name: "game-name",
    startTime: "game-start",
    endTime: "game-end",
    "config.releaseCurve": "game-curve",
    releaseCurve: "game-curve",
    "config.maxWinsPerUser": "game-max-wins",
    maxWinsPerUser: "game-max-wins",
  };

  function parseCurve(text) {
    var parts = String(text || "").split(/[\s,;]+/).filter(Boolean);
    if (!parts.length) return null;
    return parts.map(function (part) {
      var n = Number(part);
      if (!isFinite(n) || n < 0) invalid(GAME_FIELDS, "config.releaseCurve", "use numbers of 0 or more, separated by commas");
      return n;
    });
  }

  function createGame(event) {
    event.preventDefault();
    submitting($("game-form"), $("create-game"), GAME_FIELDS, "Creating the game", function () {
      unpublish("created-game", "data-game-id");
      var campaignId = identifier($("game-campaign").value, GAME_FIELDS, "campaignId");
      var body = { name: requiredText($("game-name").value, GAME_FIELDS, "name") };
      var w = windowFrom("game-start", "game-end", GAME_FIELDS);
      body.startTime = w.startTime;
      body.endTime = w.endTime;
      var config = {};
      var curve = parseCurve($("game-curve").value);
      if (curve) config.releaseCurve = curve;
      if ($("game-max-wins").value.trim() !== "") {
        config.maxWinsPerUser = wholeNumber($("game-max-wins").value, GAME_FIELDS, "config.maxWinsPerUser", 1, 1000000);
      }
      if (Object.keys(config).length) body.config = config;
      return api("/admin/campaigns/" + segment(campaignId) + "/games", { method: "POST", json: body }).then(
        function (game) {
          published("created-game", "data-game-id", game.gameId, "Game \u201c" + game.name + "\u201d created (" + game.status + "):");
          useGame(game.gameId);
          say("ok", "Game created as " + game.status + ". Set a budget and coupons, then make it LIVE.");
          loadCampaigns(); // the form is free again at once; the lists follow
        }
      );
    });
  }

  var BRAND_FIELDS = { name: "brand-name" };

  function createBrand(event) {
    event.preventDefault();
    submitting($("brand-form"), $("create-brand"), BRAND_FIELDS, "Creating the brand", function () {
      unpublish("created-brand", "data-brand-id");
      var body = { name: requiredText($("brand-name").value, BRAND_FIELDS, "name") };
      return api("/admin/brands", { method: "POST", json: body }).then(function (brand) {
        published("created-brand", "data-brand-id", brand.brandId, "Brand \u201c" + brand.name + "\u201d created:");
        $("budget-brand").value = brand.brandId;
        $("brand-name").value = "";
        say("ok", "Brand created.");
        loadBrands();
      });
    });
  }

  // ---------------------------------------------------------------- edit

  var EDIT_FIELDS = {
    gameId: "edit-game",
    name: "edit-name",
    startTime: "edit-start",
    endTime: "edit-end",
    "config.releaseCurve": "edit-curve",
    "config.maxCouponsPerPlay": "edit-max-coupons",
    "config.maxWinsPerUser": "edit-max-wins",
    "config.minSecondsBetweenPlays": "edit-min-gap",
    "config.pacingSlackPct": "edit-slack",
  };
  var EDITABLE = { DRAFT: true, SCHEDULED: true };

  function decimal(value, field, min, max) {
    var text = String(value || "").trim();
    var n = Number(text);
    if (text === "" || !isFinite(n)) invalid(EDIT_FIELDS, field, "enter a number");
    if (n < min || n > max) invalid(EDIT_FIELDS, field, "must be between " + min + " and " + max);
    return n;
  }

  /** The game's whole config in the form, as the API has it now. */
  function loadGameForEdit(gameId) {
    submitting($("edit-load-form"), $("load-game"), EDIT_FIELDS, "Loading the game", function () {
      var id = identifier(gameId, EDIT_FIELDS, "gameId");
      return api("/admin/games/" + segment(id)).then(function (game) {
        var config = game.config || {};
        state.editing = game;
        $("edit-game").value = game.gameId;
        $("edit-name").value = game.name;
        $("edit-start").value = toLocalInput(new Date(game.startTime));
        $("edit-end").value = toLocalInput(new Date(game.endTime));
        $("edit-curve").value = (config.releaseCurve || []).join(", ");
        $("edit-max-coupons").value = String(config.maxCouponsPerPlay);
        $("edit-max-wins").value = String(config.maxWinsPerUser);
        $("edit-min-gap").value = String(config.minSecondsBetweenPlays);
        $("edit-slack").value = String(config.pacingSlackPct);
        var locked = !EDITABLE[game.status];
        Array.prototype.forEach.call(document.querySelectorAll("[data-config-field]"), function (input) {
          input.disabled = locked;
        });
        $("edit-locked").hidden = !locked;
        $("edit-form").hidden = false;
        clearMarks(EDIT_FIELDS);
        say("ok", "Editing \u201c" + game.name + "\u201d (" + game.status + ").");
        $("edit-name").focus();
      });
    });
  }

  /** Name always; window and config (replaced whole) while the game may still change. */
  function saveGame(event) {
    event.preventDefault();
    submitting($("edit-form"), $("save-game"), EDIT_FIELDS, "Saving the game", function () {
      var game = state.editing;
      var body = { name: requiredText($("edit-name").value, EDIT_FIELDS, "name") };
      if (EDITABLE[game.status]) {
        var w = windowFrom("edit-start", "edit-end", EDIT_FIELDS);
        body.startTime = w.startTime;
        body.endTime = w.endTime;
        var curve = String($("edit-curve").value || "").split(/[\s,;]+/).filter(Boolean).map(Number);
        if (curve.some(function (n) { return !isFinite(n); })) {
          invalid(EDIT_FIELDS, "config.releaseCurve", "use numbers, separated by commas");
        }
        body.config = {
          maxCouponsPerPlay: wholeNumber($("edit-max-coupons").value, EDIT_FIELDS, "config.maxCouponsPerPlay", 1, 10),
          maxWinsPerUser: wholeNumber($("edit-max-wins").value, EDIT_FIELDS, "config.maxWinsPerUser", 1, 1000000),
          minSecondsBetweenPlays: decimal($("edit-min-gap").value, "config.minSecondsBetweenPlays", 0, 3600),
          pacingSlackPct: decimal($("edit-slack").value, "config.pacingSlackPct", 0, 100),
        };
        if (curve.length) body.config.releaseCurve = curve;
      }
      return api("/admin/games/" + segment(game.gameId), { method: "PATCH", json: body }).then(function (saved) {
        state.editing = saved;
        say("ok", "Saved \u201c" + saved.name + "\u201d.");
        loadCampaigns();
      });
    });
  }

  // ---------------------------------------------------------------- status

  var STATUS_FIELDS = { gameId: "status-game", status: "game-status" };

  function changeStatus(gameId, status, button) {
    var form = $("status-form");
    submitting(form, button || $("set-status"), STATUS_FIELDS, "Changing the game's status", function () {
      var id = identifier(gameId, STATUS_FIELDS, "gameId");
      return api("/admin/games/" + segment(id), { method: "PATCH", json: { status: status } }).then(
        function (game) {
          say("ok", "Game " + game.gameId + " is now " + game.status + ".");
          if (state.report.gameId === game.gameId) fetchReport(state.report.serial);
          loadCampaigns(); // the form is free again at once; the lists follow
        }
      );
    });
  }

  function onStatusSubmit(event) {
    event.preventDefault();
    changeStatus($("status-game").value, $("game-status").value, $("set-status"));
  }

  // ---------------------------------------------------------------- budgets & coupons

  var BUDGET_FIELDS = {
    gameId: "budget-game",
    brandId: "budget-brand",
    budget: "budget-amount",
    counters: "budget-counters",
  };
  var UPLOAD_FIELDS = { gameId: "budget-game", brandId: "budget-brand", body: "coupon-file", file: "coupon-file" };
  var OFFER_FIELDS = {
    gameId: "budget-game",
    brandId: "budget-brand",
    title: "offer-title",
    value: "offer-value",
    termsUrl: "offer-terms",
    validUntil: "offer-until",
    description: "offer-description",
  };
  var GENERATE_FIELDS = { gameId: "budget-game", brandId: "budget-brand", generate: "coupon-generate" };

  function gameAndBrand(fieldMap) {
    return {
      gameId: identifier($("budget-game").value, fieldMap, "gameId"),
      brandId: identifier($("budget-brand").value, fieldMap, "brandId"),
    };
  }

  function setBudget(event) {
    event.preventDefault();
    submitting($("budget-form"), $("set-budget"), BUDGET_FIELDS, "Setting the budget", function () {
      var ids = gameAndBrand(BUDGET_FIELDS);
      var budget = wholeNumber($("budget-amount").value, BUDGET_FIELDS, "budget", 0, 100000000);
      var body = { budget: budget };
      var counters = $("budget-counters");
      // Junk in a number input reads as "", which would mean "keep": say so instead.
      if (counters.validity.badInput) invalid(BUDGET_FIELDS, "counters", "enter a whole number from 1 to 64");
      if (String(counters.value || "").trim()) {
        body.counters = wholeNumber(counters.value, BUDGET_FIELDS, "counters", 1, 64);
      }
      var path = "/admin/games/" + segment(ids.gameId) + "/budgets/" + segment(ids.brandId);
      return api(path, { method: "PUT", json: body }).then(function (out) {
        // A split is set once: left filled, the next budget change would send it again.
        counters.value = "";
        var was = out.previous === null || out.previous === undefined ? "none" : fmt(out.previous);
        var split = out.counters > 1 ? ", split over " + fmt(out.counters) + " counters" : "";
        say("ok", "Budget for brand " + brandLabel(out.brandId) + " in game " + out.gameId + " is now " +
          fmt(out.budget) + split + " (was " + was + "; " + fmt(out.issued) + " issued so far).");
        if (state.report.gameId === out.gameId) fetchReport(state.report.serial);
      });
    });
  }

  /** The offer replaces the game-brand's whole offer: an empty optional field clears it. */
  function setOffer(event) {
    event.preventDefault();
    submitting($("offer-form"), $("set-offer"), OFFER_FIELDS, "Setting the offer", function () {
      var ids = gameAndBrand(OFFER_FIELDS);
      var body = { title: requiredText($("offer-title").value, OFFER_FIELDS, "title") };
      ["value", "termsUrl", "description"].forEach(function (name) {
        var text = String($(OFFER_FIELDS[name]).value || "").trim();
        if (text) body[name] = text;
      });
      var until = $("offer-until").value;
      if (until) {
        var instant = new Date(until); // datetime-local: the marketer's own clock
        if (isNaN(instant.getTime())) invalid(OFFER_FIELDS, "validUntil", "is not a date and time");
        body.validUntil = instant.toISOString();
      }
      var path = "/admin/games/" + segment(ids.gameId) + "/budgets/" + segment(ids.brandId) + "/offer";
      return api(path, { method: "PUT", json: body }).then(function (out) {
        var worth = out.value ? out.title + " \u00b7 " + out.value : out.title;
        var ends = out.validUntil ? ", valid until " + showTime(out.validUntil) : ", with no end";
        say("ok", "Offer for brand " + brandLabel(ids.brandId) + " in game " + ids.gameId + ": " + worth + ends + ".");
      });
    });
  }

  // ---------------------------------------------------------------- till

  var TILL_FIELDS = { code: "till-code" };

  /** Redeem once; the answer says whether to hand over the goods. */
  function redeem(event) {
    event.preventDefault();
    var node = $("till-result");
    delete node.dataset.outcome;
    F.replaceChildren(node);
    submitting($("till-form"), $("redeem"), TILL_FIELDS, "Redeeming", function () {
      var code = requiredText($("till-code").value, TILL_FIELDS, "code");
      return api("/admin/coupons/" + segment(code) + "/redeem", { method: "POST" }).then(
        function (out) {
          node.dataset.outcome = "redeemed";
          F.replaceChildren(node, "Redeemed: a coupon of brand " + brandLabel(out.brandId) + " in game " + out.gameId + ". Hand it over.");
          $("till-code").value = "";
          say("ok", "Coupon redeemed.");
        },
        function (error) {
          node.dataset.outcome = "refused";
          F.replaceChildren(node, "Refused: " + (error.message || F.plainWords(error.code)));
          throw error;
        }
      );
    });
  }

  function showUpload(out) {
    var node = $("upload-result");
    node.dataset.added = String(out.added);
    node.dataset.poolSize = String(out.poolSize);
    F.replaceChildren(node,
      "Added " + fmt(out.added) + " codes (" + fmt(out.duplicates) + " duplicates, " +
      fmt(out.invalid) + " invalid). The pool now holds " + fmt(out.poolSize) + " codes.");
  }

  function clearUpload() {
    var node = $("upload-result");
    delete node.dataset.added;
    delete node.dataset.poolSize;
    F.replaceChildren(node);
  }

  function uploadCoupons(event) {
    event.preventDefault();
    submitting($("upload-form"), $("upload-coupons"), UPLOAD_FIELDS, "Uploading the codes", function () {
      clearUpload();
      var ids = gameAndBrand(UPLOAD_FIELDS);
      var input = $("coupon-file");
      var file = input.files && input.files[0];
      if (!file) invalid(UPLOAD_FIELDS, "file", "choose a CSV file first");
      if (file.size > MAX_UPLOAD_BYTES) invalid(UPLOAD_FIELDS, "file", "the file is over 5 MB: split it");
      var path = "/admin/games/" + segment(ids.gameId) + "/budgets/" + segment(ids.brandId) + "/coupons";
      return api(path, { method: "POST", body: file, contentType: "text/csv", timeoutMs: 120000 }).then(
        function (out) {
          showUpload(out);
          input.value = "";
          say("ok", "Codes uploaded.");
          if (state.report.gameId === ids.gameId) fetchReport(state.report.serial);
        }
      );
    });
  }

  function generateCoupons(event) {
    event.preventDefault();
    submitting($("generate-form"), $("generate-coupons"), GENERATE_FIELDS, "Generating codes", function () {
      clearUpload();
      var ids = gameAndBrand(GENERATE_FIELDS);
      var n = wholeNumber($("coupon-generate").value, GENERATE_FIELDS, "generate", 1, MAX_GENERATE);
      var path = "/admin/games/" + segment(ids.gameId) + "/budgets/" + segment(ids.brandId) + "/coupons";
      return api(path, { method: "POST", json: { generate: n }, timeoutMs: 120000 }).then(function (out) {
        showUpload(out);
        say("ok", "Codes generated.");
        if (state.report.gameId === ids.gameId) fetchReport(state.report.serial);
      });
    });
  }

  function brandLabel(brandId) {
    var name = state.brandNames[brandId];
    return name ? name + " (" + brandId + ")" : brandId;
  }

  // ---------------------------------------------------------------- report

  function onReportSubmit(event) {
    event.preventDefault();
    if (!requireAuth()) return;
    var gameId = $("report-game").value.trim();
    if (!F.IDENTIFIER.test(gameId)) {
      $("report-game").setAttribute("aria-invalid", "true");
      say("error", "Enter the id of the game to report on.", ["gameId: " + (gameId ? "is not a valid id" : "required")]);
      $("report-game").focus();
      return;
    }
    $("report-game").removeAttribute("aria-invalid");
    startReport(gameId);
  }

  function startReport(gameId) {
    if (!requireAuth()) return;
    stopReport();
    state.report.gameId = gameId;
    state.report.last = null;
    var report = $("report");
    report.dataset.state = "loading";
    report.dataset.reportGame = gameId;
    fetchReport(state.report.serial);
    loadExports(gameId);
  }

  function stopReport() {
    state.report.serial += 1;
    clearTimeout(state.report.timer);
    state.report.timer = null;
    state.report.gameId = null;
  }

  function scheduleReport(serial, ms) {
    clearTimeout(state.report.timer);
    state.report.timer = null;
    if (serial !== state.report.serial || !state.report.gameId || !state.auth) return;
    if (!$("report-auto").checked) return;
    state.report.timer = setTimeout(function () {
      state.report.timer = null;
      if (document.visibilityState === "hidden") return; // resumed by visibilitychange
      fetchReport(serial);
    }, ms);
  }

  function fetchReport(serial) {
    var gameId = state.report.gameId;
    if (!gameId || serial !== state.report.serial) return;
    state.report.inflight = (state.report.inflight || 0) + 1;
    api("/admin/games/" + segment(gameId) + "/report", { timeoutMs: 10000 })
      .then(function (report) {
        if (serial !== state.report.serial) return;
        state.report.last = report;
        renderReport(report);
        scheduleReport(serial, REPORT_EVERY_MS);
      })
      .catch(function (error) {
        if (serial !== state.report.serial) return;
        $("report").dataset.state = "error";
        sayError(error, "Could not load the report of game " + gameId);
        if (error.status === 404 || error.status === 400 || error.status === 401 || error.status === 403) {
          return; // won't get better by asking again
        }
        scheduleReport(serial, REPORT_RETRY_MS);
      })
      .finally(function () {
        state.report.inflight -= 1;
      });
  }

  // ---------------------------------------------------------------- exports

  var EXPORT_LABELS = { winners: "Winners", audit: "Audit trail" };

  /** The game's recent exports; asked again each second while one is being written. */
  function loadExports(gameId) {
    var exports = state.exports;
    if (exports.gameId !== gameId) {
      exports.gameId = gameId;
      F.replaceChildren($("export-list"));
    }
    exports.serial += 1;
    var serial = exports.serial;
    clearTimeout(exports.timer);
    api("/admin/games/" + segment(gameId) + "/exports")
      .then(function (out) {
        if (serial !== exports.serial) return;
        var items = Array.isArray(out.items) ? out.items : [];
        renderExports(items);
        if (items.some(function (e) { return e.status === "running"; })) {
          exports.timer = setTimeout(function () { loadExports(gameId); }, EXPORT_POLL_MS);
        }
      })
      .catch(function (error) {
        if (serial === exports.serial) sayError(error, "Could not list the exports of game " + gameId);
      });
  }

  function renderExports(items) {
    F.replaceChildren($("export-list"),
      items.length
        ? items.map(function (e) {
            var label = (EXPORT_LABELS[e.kind] || e.kind) + ", asked " + showTime(e.requestedAt);
            var detail = e.status === "done"
              ? h("a", {
                  attrs: { href: e.downloadUrl, download: e.fileName, "aria-label": "Download " + label },
                  dataset: { kind: e.kind },
                  text: "Download (" + plural(e.rows, "row") + ")",
                })
              : h("span", { className: "meta", text: e.status === "failed" ? "Failed: " + (e.error || "try again") : "Being written…" });
            return h("li", { dataset: { exportId: e.exportId, status: e.status, kind: e.kind } },
              h("span", { text: label }),
              h("span", { className: "badge badge-" + e.status, text: e.status }),
              detail);
          })
        : h("li", { className: "meta", text: "No exports of this game yet." }));
  }

  function startExport(event) {
    var button = event.currentTarget;
    var gameId = state.report.gameId;
    if (!requireAuth() || !gameId) return;
    var kind = button.dataset.kind;
    button.disabled = true;
    api("/admin/games/" + segment(gameId) + "/exports", { method: "POST", json: { kind: kind } })
      .then(function () {
        say("ok", (EXPORT_LABELS[kind] || kind) + " export started: its link appears below when written.");
        loadExports(gameId);
      })
      .catch(function (error) {
        sayError(error, "Could not start the export");
      })
      .finally(function () {
        button.disabled = false;
      });
  }

  function stat(label, value) {
    return h("div", { className: "stat" },
      h("span", { className: "stat-value", text: value }),
      h("span", { className: "stat-label", text: label }));
  }

  function renderReport(report) {
    var node = $("report");
    node.dataset.state = "loaded";
    node.dataset.reportGame = report.gameId;
    var brands = Array.isArray(report.brands) ? report.brands : [];
    var totals = brands.reduce(function (t, b) {
      t.budget += b.budget || 0;
      t.issued += b.issued || 0;
      t.remaining += b.remaining || 0;
      t.pool += b.poolSize || 0;
      return t;
    }, { budget: 0, issued: 0, remaining: 0, pool: 0 });

    $("report-heading-line").textContent =
      "Game " + report.gameId + " \u00b7 " + report.status + " \u00b7 " + showWindow(report) +
      " \u00b7 updated " + new Date().toLocaleTimeString();

    var winRate = report.plays > 0 ? ((100 * report.wins) / report.plays).toFixed(2) + " %" : "\u2013";
    F.replaceChildren($("report-summary"),
      stat("plays", fmt(report.plays)),
      stat("wins", fmt(report.wins)),
      stat("win rate", winRate),
      stat("budget", fmt(totals.budget)),
      stat("issued", fmt(totals.issued)),
      stat("remaining", fmt(totals.remaining)));

    F.replaceChildren($("brand-rows"),
      brands.length
        ? brands.map(function (b) {
            var short = b.poolSize < b.budget;
            return h("tr", { className: short ? "warn" : "" },
              h("th", { attrs: { scope: "row" } }, brandLabel(b.brandId)),
              h("td", { text: fmt(b.budget) + (b.counters > 1 ? " (" + fmt(b.counters) + " counters)" : "") }),
              h("td", { text: fmt(b.issued) }),
              h("td", { text: fmt(b.remaining) }),
              h("td", { text: fmt(b.poolSize) + (short ? " (" + fmt(b.budget - b.poolSize) + " short of the budget)" : "") }));
          })
        : h("tr", null, h("td", { attrs: { colspan: "5" }, text: "No budgets yet: set one above." })));

    drawChart($("pacing-chart"), report, totals.budget);
  }

  // ---------------------------------------------------------------- chart

  /** An axis for whole counts: { max, step } with about `ticks` steps of 1, 2, 5 × 10^k. */
  function countAxis(value, ticks) {
    var step = Math.max(1, Math.ceil(niceStep(Math.max(1, value) / ticks)));
    return { max: Math.max(step, Math.ceil(Math.max(1, value) / step) * step), step: step };
  }

  function niceStep(raw) {
    if (!(raw > 1)) return 1;
    var exp = Math.pow(10, Math.floor(Math.log10(raw)));
    var options = [1, 2, 5, 10];
    for (var i = 0; i < options.length; i++) {
      if (options[i] * exp >= raw) return options[i] * exp;
    }
    return 10 * exp;
  }

  function plural(n, word) {
    return fmt(n) + " " + word + (n === 1 ? "" : "s");
  }

  function shortNumber(n) {
    if (n >= 1e6) return (n / 1e6).toFixed(n % 1e6 ? 1 : 0) + "M";
    if (n >= 1e4) return (n / 1e3).toFixed(n % 1e3 ? 1 : 0) + "k";
    return String(Math.round(n * 10) / 10);
  }

  /**
   * Issued (solid) and scheduled (dashed) coupons, cumulative, on the left axis; plays
   * per minute as bars on the right axis. Curve point i covers minute i of the window
   * and holds the totals at its end, so lines are drawn at the end of each minute; the
   * minute under way is drawn at "now".
   */
  function drawChart(canvas, report, totalBudget) {
    var curve = Array.isArray(report.curve) ? report.curve : [];
    var start = Date.parse(report.startTime);
    var end = Date.parse(report.endTime);
    var duration = Math.max(1, (end - start) / 1000);
    var elapsed = Math.min(duration, Math.max(0, (Date.now() - start) / 1000));
    if (report.status === "ENDED") elapsed = duration;
    var n = Math.max(1, curve.length);
    var shownPoints = elapsed <= 0 ? 0 : Math.min(n, Math.floor(elapsed / 60) + 1);

    var maxIssued = 0;
    var maxScheduled = 0;
    var maxPlays = 0;
    curve.forEach(function (p, i) {
      maxScheduled = Math.max(maxScheduled, p.scheduled || 0);
      if (i < shownPoints) {
        maxIssued = Math.max(maxIssued, p.issued || 0);
        maxPlays = Math.max(maxPlays, p.plays || 0);
      }
    });

    // the text alternative, kept in step with the picture
    var summary;
    if (!curve.length) {
      summary = "No pacing data yet.";
    } else if (shownPoints === 0) {
      summary = "The game has not started yet. " + fmt(Math.round(maxScheduled)) + " coupons are scheduled over " + n + " minutes.";
    } else {
      var at = curve[shownPoints - 1];
      var sched = at.scheduled || 0;
      var pct = sched >= 1 ? " (" + Math.round((100 * at.issued) / sched) + " % of schedule)" : "";
      summary = "Minute " + shownPoints + " of " + n + ": " + plural(at.issued, "coupon") + " issued against " +
        (sched < 10 ? sched.toFixed(1) : fmt(Math.round(sched))) + " scheduled" + pct + "; " +
        plural(at.plays, "play") + " in that minute.";
    }
    canvas.setAttribute("aria-label", "Pacing chart. " + summary);
    $("chart-summary").textContent = summary;

    var ctx = canvas.getContext && canvas.getContext("2d");
    if (!ctx) return;
    var dpr = window.devicePixelRatio || 1;
    var cssW = canvas.clientWidth || 640;
    var cssH = canvas.clientHeight || 288;
    if (canvas.width !== Math.round(cssW * dpr)) canvas.width = Math.round(cssW * dpr);
    if (canvas.height !== Math.round(cssH * dpr)) canvas.height = Math.round(cssH * dpr);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, cssW, cssH);

    var pad = { left: 56, right: 56, top: 14, bottom: 34 };
    var w = Math.max(10, cssW - pad.left - pad.right);
    var hgt = Math.max(10, cssH - pad.top - pad.bottom);
    var left = countAxis(Math.max(totalBudget, maxScheduled, maxIssued), 4);
    var right = countAxis(maxPlays, 4);
    var leftMax = left.max;
    var rightMax = right.max;
    var xAt = function (seconds) {
      return pad.left + (w * seconds) / duration;
    };
    var yLeft = function (v) {
      return pad.top + hgt - (hgt * v) / leftMax;
    };
    var yRight = function (v) {
      return pad.top + hgt - (hgt * v) / rightMax;
    };
    var font = "12px system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif";
    ctx.font = font;
    ctx.lineJoin = "round";

    // grid and axes
    ctx.strokeStyle = "#e3e6f0";
    ctx.lineWidth = 1;
    ctx.fillStyle = "#4a4f68";
    ctx.textBaseline = "middle";
    for (var v = 0; v <= leftMax + 1e-9; v += left.step) {
      var y = yLeft(v);
      ctx.beginPath();
      ctx.moveTo(pad.left, Math.round(y) + 0.5);
      ctx.lineTo(pad.left + w, Math.round(y) + 0.5);
      ctx.stroke();
      ctx.textAlign = "right";
      ctx.fillText(shortNumber(v), pad.left - 6, y);
    }
    ctx.textAlign = "left";
    for (var r = 0; r <= rightMax + 1e-9; r += right.step) {
      ctx.fillText(shortNumber(r), pad.left + w + 6, yRight(r));
    }
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    var minutes = duration / 60;
    var step = niceStep(minutes / Math.max(2, Math.floor(w / 70)));
    for (var m = 0; m <= minutes + 1e-9; m += step) {
      ctx.fillText(String(Math.round(m)), xAt(m * 60), pad.top + hgt + 6);
    }
    ctx.fillText("minutes", pad.left + w / 2, pad.top + hgt + 20);

    // plays per minute: bars on the right axis
    ctx.fillStyle = "#b9c3dd";
    for (var i = 0; i < shownPoints; i++) {
      var x0 = xAt(i * 60);
      var x1 = xAt(Math.min(duration, (i + 1) * 60, i === shownPoints - 1 ? elapsed : Infinity));
      var plays = curve[i].plays || 0;
      if (plays > 0) {
        var top = yRight(plays);
        ctx.fillRect(x0 + 1, top, Math.max(1, x1 - x0 - 2), pad.top + hgt - top);
      }
    }

    // scheduled: dashed, the whole window
    if (curve.length) {
      ctx.strokeStyle = "#c2410c";
      ctx.lineWidth = 2;
      ctx.setLineDash([6, 4]);
      ctx.beginPath();
      ctx.moveTo(xAt(0), yLeft(0));
      curve.forEach(function (p, i) {
        ctx.lineTo(xAt(Math.min(duration, (i + 1) * 60)), yLeft(p.scheduled || 0));
      });
      ctx.stroke();
      ctx.setLineDash([]);
    }

    // issued: solid, up to now
    if (shownPoints > 0) {
      ctx.strokeStyle = "#3338c9";
      ctx.lineWidth = 2.5;
      ctx.beginPath();
      ctx.moveTo(xAt(0), yLeft(0));
      for (var j = 0; j < shownPoints; j++) {
        var tEnd = Math.min(duration, (j + 1) * 60, j === shownPoints - 1 ? elapsed : Infinity);
        ctx.lineTo(xAt(tEnd), yLeft(curve[j].issued || 0));
      }
      ctx.stroke();
    }

    // now
    if (elapsed > 0 && elapsed < duration) {
      ctx.strokeStyle = "#8a8fa8";
      ctx.lineWidth = 1;
      ctx.setLineDash([2, 3]);
      ctx.beginPath();
      ctx.moveTo(Math.round(xAt(elapsed)) + 0.5, pad.top);
      ctx.lineTo(Math.round(xAt(elapsed)) + 0.5, pad.top + hgt);
      ctx.stroke();
      ctx.setLineDash([]);
    }

    // frame
    ctx.strokeStyle = "#8a8fa8";
    ctx.lineWidth = 1;
    ctx.strokeRect(pad.left + 0.5, pad.top + 0.5, w - 1, hgt - 1);
    ctx.save();
    ctx.fillStyle = "#4a4f68";
    ctx.textAlign = "center";
    ctx.textBaseline = "bottom";
    ctx.translate(12, pad.top + hgt / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.fillText("coupons", 0, 6);
    ctx.restore();
    ctx.save();
    ctx.translate(cssW - 10, pad.top + hgt / 2);
    ctx.rotate(Math.PI / 2);
    ctx.textAlign = "center";
    ctx.textBaseline = "bottom";
    ctx.fillStyle = "#4a4f68";
    ctx.fillText("plays / min", 0, 6);
    ctx.restore();
  }

  // ---------------------------------------------------------------- wiring

  function init() {
    $("admin-signin-form").addEventListener("submit", signIn);
    $("admin-sign-out").addEventListener("click", signOut);
    $("campaign-form").addEventListener("submit", createCampaign);
    $("game-form").addEventListener("submit", createGame);
    $("brand-form").addEventListener("submit", createBrand);
    $("status-form").addEventListener("submit", onStatusSubmit);
    $("budget-form").addEventListener("submit", setBudget);
    $("upload-form").addEventListener("submit", uploadCoupons);
    $("generate-form").addEventListener("submit", generateCoupons);
    $("offer-form").addEventListener("submit", setOffer);
    $("till-form").addEventListener("submit", redeem);
    $("edit-load-form").addEventListener("submit", function (event) {
      event.preventDefault();
      loadGameForEdit($("edit-game").value);
    });
    $("edit-form").addEventListener("submit", saveGame);
    $("report-form").addEventListener("submit", onReportSubmit);
    $("export-winners").addEventListener("click", startExport);
    $("export-audit").addEventListener("click", startExport);
    $("refresh-lists").addEventListener("click", function () {
      if (requireAuth()) loadAll().then(function () { say("ok", "Lists refreshed."); });
    });
    $("report-auto").addEventListener("change", function () {
      if ($("report-auto").checked && state.report.gameId) fetchReport(state.report.serial);
      else {
        clearTimeout(state.report.timer);
        state.report.timer = null;
      }
    });
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible" && state.report.gameId && !state.report.timer &&
          !state.report.inflight && $("report-auto").checked) {
        fetchReport(state.report.serial);
      }
    });
    var resizeTimer = null;
    window.addEventListener("resize", function () {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(function () {
        if (state.report.last) drawChart($("pacing-chart"), state.report.last, sumBudget(state.report.last));
      }, 150);
    });

    setDefaultTimes();
    F.keepSessionFresh("admin", state, sessionEnded);
    resumeSession().then(function (signedIn) {
      state.auth = signedIn;
      renderAuth();
      if (state.auth && hasRole("brand-manager")) loadAll();
      else if (state.auth && hasRole("till")) loadBrands(); // names for the till's answers
      var fromUrl = new URLSearchParams(window.location.search).get("game");
      if (fromUrl && F.IDENTIFIER.test(fromUrl)) {
        useGame(fromUrl);
        if (state.auth) startReport(fromUrl);
      }
    });
  }

  function sumBudget(report) {
    return (report.brands || []).reduce(function (t, b) {
      return t + (b.budget || 0);
    }, 0);
  }

  init();
})();
