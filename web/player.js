/*
 * Frolic player page: sign in, pick a game, spin, see the result.
 *
 * A play is sent over the WebSocket when it is open ({"action":"play"}), else with
 * POST /plays. The result normally arrives as a {"type":"result"} push; the push is
 * only a hint: whenever it has not arrived by the time the reels should stop (or the
 * play went over REST, or the socket dropped), GET /plays/{playId} is polled, and
 * that answer is the truth.
 */
(function () {
  "use strict";

  var F = window.Frolic;
  var h = F.h;

  // ---------------------------------------------------------------- timing

  var SPIN_MS = 10000; // the reel runs about ten seconds
  var DECIDE_AT_MS = 7600; // first reel starts to slow down here (if the result is known)
  var STOP_STAGGER_MS = 700; // then one reel after the other: lands ~8.4 s, 9.1 s, 9.8 s
  var LATE_STAGGER_MS = 450; // stagger when the result came late (or a refusal came early)
  var POLL_EVERY_MS = 1000;
  var POLL_FOR_MS = 20000;
  var WS_ACK_MS = 3000; // no "queued"/"error" frame by then: resend over REST (safe)
  var PING_EVERY_MS = 5 * 60 * 1000; // API Gateway drops idle sockets after 10 minutes
  var BACKOFF_MS = [1000, 2000, 4000, 8000, 15000, 30000];
  var POST_RETRIES = 2; // network failures on POST /plays are retried (same payload)
  // Frolic takes one play per player per interval (10 s by default; 429 too_many_plays
  // beyond). Spins are ~10 s anyway; this keeps a quick second press from being refused.
  var MIN_SPIN_GAP_MS = 10500;

  var FINAL = { won: true, lost: true, rejected: true, expired: true };

  // ---------------------------------------------------------------- elements

  var $ = function (id) {
    return document.getElementById(id);
  };
  var el = {
    signinForm: $("signin-form"),
    signIn: $("sign-in"),
    signUp: $("sign-up"),
    signedIn: $("signed-in"),
    signedInName: $("signed-in-name"),
    signOut: $("sign-out"),
    signinMessage: $("signin-message"),
    gameId: $("game-id"),
    gameHint: $("game-id-hint"),
    games: $("games"),
    gamesMessage: $("games-message"),
    machine: $("machine"),
    reels: $("reels"),
    progressBar: $("spin-progress-bar"),
    countdown: $("spin-countdown"),
    spin: $("spin"),
    spinHint: $("spin-hint"),
    result: $("result"),
    connection: $("connection-status"),
    couponsSection: $("coupons-section"),
    coupons: $("coupons"),
    moreCoupons: $("more-coupons"),
  };

  // ---------------------------------------------------------------- state

  var state = {
    auth: null, // { token, userId }
    socket: null,
    socketSerial: 0, // bumps on every connect attempt and on sign-out: stale callbacks bail
    reconnectTimer: null,
    reconnectAttempt: 0,
    ticketPending: false,
    cooldownUntil: 0, // performance.now() before which SPIN waits
    cooldownTimer: null,
    pingTimer: null,
    play: null, // the play on screen (see newPlay)
    shown: Object.create(null), // playIds whose result has been shown: later pushes ignored
    coupons: [], // { playId, brandId, brandName, code, offer } — memory only, never stored
    couponKeys: Object.create(null),
    walletCursor: null, // where the wallet's next (older) page starts
  };

  // ---------------------------------------------------------------- reels

  var SYMBOLS = [
    { key: "jackpot", glyph: "\u2605", label: "JACKPOT" },
    { key: "zest", glyph: "\u25C6", label: "ZEST" },
    { key: "nova", glyph: "\u25CF", label: "NOVA" },
    { key: "peak", glyph: "\u25B2", label: "PEAK" },
    { key: "luma", glyph: "\u2665\uFE0E", label: "LUMA" },
    { key: "bloc", glyph: "\u25A0", label: "BLOC" },
    { key: "clover", glyph: "\u2663\uFE0E", label: "CLOVR" },
  ];
  var JACKPOT = SYMBOLS[0];
  var PLAIN = SYMBOLS.slice(1);
  var STRIP_LEN = 12; // symbols on one reel's loop
  var VISIBLE = 3; // rows in the reel window; the middle one is the payline
  var SPEED = 22; // symbols per second at full speed
  var RAMP_MS = 350;
  var DECEL_MS = 800;

  function pick(list) {
    return list[Math.floor(Math.random() * list.length)];
  }

  function randomStrip() {
    var out = [];
    for (var i = 0; i < STRIP_LEN; i++) {
      // jackpots are rarer on the strip, as on a real reel
      out.push(Math.random() < 0.1 ? JACKPOT : pick(PLAIN));
    }
    return out;
  }

  function tileFor(symbol) {
    return h(
      "div",
      { className: "tile sym-" + symbol.key, attrs: { "aria-hidden": "true" } },
      h("span", { className: "glyph", text: symbol.glyph }),
      h("span", { className: "label", text: symbol.label })
    );
  }

  function mod(a, n) {
    return ((a % n) + n) % n;
  }

  function ReelSet(root) {
    var self = this;
    this.root = root;
    this.running = false;
    this.onLanded = null;
    this.reels = Array.prototype.map.call(root.querySelectorAll(".reel"), function (node) {
      var reel = { el: node, strip: node.querySelector(".strip"), symbols: [], pos: 0, phase: "idle" };
      self.fill(reel, randomStrip());
      reel.pos = Math.floor(Math.random() * STRIP_LEN);
      self.render(reel);
      return reel;
    });
    this.tick = this.tick.bind(this);
  }

  ReelSet.prototype.fill = function (reel, symbols) {
    reel.symbols = symbols.slice();
    var tiles = symbols.concat(symbols.slice(0, VISIBLE)).map(tileFor);
    F.replaceChildren(reel.strip, tiles);
  };

  ReelSet.prototype.setSymbol = function (reel, index, symbol) {
    reel.symbols[index] = symbol;
    var tiles = reel.strip.children;
    tiles[index].replaceWith(tileFor(symbol));
    if (index < VISIBLE) tiles[STRIP_LEN + index].replaceWith(tileFor(symbol));
  };

  /** Symbols fall downwards: the strip's offset grows from -STRIP_LEN tiles to 0. */
  ReelSet.prototype.render = function (reel) {
    var y = -(STRIP_LEN - mod(reel.pos, STRIP_LEN));
    // translateY percentages are of the strip's own height: (STRIP_LEN + VISIBLE) tiles
    reel.strip.style.transform = "translateY(" + ((y * 100) / (STRIP_LEN + VISIBLE)).toFixed(4) + "%)";
  };

  /** The strip index on the payline when the reel rests at integer position `pos`. */
  function centerIndex(pos) {
    return mod(STRIP_LEN - mod(Math.round(pos), STRIP_LEN) + 1, STRIP_LEN);
  }

  ReelSet.prototype.centerSymbols = function () {
    return this.reels.map(function (reel) {
      return reel.symbols[centerIndex(reel.pos)];
    });
  };

  ReelSet.prototype.start = function (reducedMotion) {
    var now = performance.now();
    this.reduced = reducedMotion;
    this.onLanded = null;
    this.stopToken = (this.stopToken || 0) + 1;
    this.reels.forEach(function (reel) {
      reel.el.classList.remove("landed");
      reel.phase = reducedMotion ? "waiting" : "spinning";
      reel.startedAt = now;
      reel.last = now;
      reel.stopAt = null;
    });
    if (!reducedMotion) this.loop();
  };

  /** Put `symbols` on the payline at once (no animation). */
  ReelSet.prototype.show = function (symbols) {
    var self = this;
    this.reels.forEach(function (reel, i) {
      reel.phase = "idle";
      reel.pos = Math.round(reel.pos);
      self.setSymbol(reel, centerIndex(reel.pos), symbols[i]);
      self.render(reel);
    });
  };

  ReelSet.prototype.loop = function () {
    if (this.running) return;
    this.running = true;
    window.requestAnimationFrame(this.tick);
  };

  /**
   * Land the reels on `symbols` (one per reel), the first after `delayMs`, then one
   * every `staggerMs`. `done` runs when the last one has landed.
   */
  ReelSet.prototype.stop = function (symbols, delayMs, staggerMs, done) {
    var self = this;
    this.onLanded = done;
    if (this.reduced) {
      // no motion: the symbols appear when the last reel would have landed
      var token = (this.stopToken = (this.stopToken || 0) + 1);
      var wait = delayMs + (this.reels.length - 1) * staggerMs + DECEL_MS;
      setTimeout(function () {
        if (token !== self.stopToken) return;
        self.show(symbols);
        var landed = self.onLanded;
        self.onLanded = null;
        if (landed) landed();
      }, wait);
      return;
    }
    var now = performance.now();
    this.reels.forEach(function (reel, i) {
      reel.stopAt = now + delayMs + i * staggerMs;
      reel.finalSymbol = symbols[i];
    });
    this.loop();
  };

  ReelSet.prototype.beginStop = function (reel, now) {
    var speed = Math.max(reel.speed || 0, 4);
    // distance at which a cubic ease-out starts at the current speed; kept between 4 and
    // 8 symbols so the swapped-in symbol is never visible when it is swapped in
    var distance = Math.min(8, Math.max(4, (speed * DECEL_MS) / 3000));
    var target = Math.ceil(reel.pos + distance);
    this.setSymbol(reel, centerIndex(target), reel.finalSymbol);
    reel.from = reel.pos;
    reel.to = target;
    reel.stopStart = now;
    reel.stopDuration = Math.min(1200, Math.max(350, ((target - reel.pos) * 3000) / speed));
    reel.phase = "stopping";
  };

  ReelSet.prototype.tick = function (now) {
    var self = this;
    var active = false;
    this.reels.forEach(function (reel) {
      if (reel.phase === "spinning") {
        var dt = Math.max(0, Math.min(0.1, (now - reel.last) / 1000));
        reel.last = now;
        reel.speed = SPEED * Math.min(1, (now - reel.startedAt) / RAMP_MS);
        reel.pos += reel.speed * dt;
        if (reel.stopAt !== null && now >= reel.stopAt) self.beginStop(reel, now);
        active = true;
      } else if (reel.phase === "stopping") {
        var k = Math.min(1, (now - reel.stopStart) / reel.stopDuration);
        var eased = 1 - Math.pow(1 - k, 3);
        reel.pos = reel.from + (reel.to - reel.from) * eased;
        if (k >= 1) {
          reel.pos = mod(reel.to, STRIP_LEN);
          reel.phase = "idle";
          reel.el.classList.add("landed");
        } else {
          active = true;
        }
      }
      self.render(reel);
    });
    var allIdle = this.reels.every(function (reel) {
      return reel.phase === "idle";
    });
    if (allIdle && this.onLanded) {
      var landed = this.onLanded;
      this.onLanded = null;
      landed();
    }
    if (active) {
      window.requestAnimationFrame(this.tick);
    } else {
      this.running = false;
    }
  };

  function outcomeSymbols(status) {
    if (status === "won") return [JACKPOT, JACKPOT, JACKPOT];
    var a = pick(PLAIN);
    var others = PLAIN.filter(function (s) {
      return s !== a;
    });
    var b = Math.random() < 0.3 ? a : pick(others); // a near miss now and then
    var c = pick(
      others.filter(function (s) {
        return s !== b;
      })
    );
    return [a, b, c];
  }

  var reels = new ReelSet(el.reels);

  // ---------------------------------------------------------------- storage

  var GAME_KEY = "frolic.player.gameId";

  function rememberGame(gameId) {
    try {
      window.localStorage.setItem(GAME_KEY, gameId);
    } catch (_) {
      /* storage blocked: fine */
    }
  }

  function rememberedGame() {
    try {
      return window.localStorage.getItem(GAME_KEY) || "";
    } catch (_) {
      return "";
    }
  }

  /** Per-user play ids in sessionStorage: the last play (to recover it after a reload)
   *  and the won plays (to rebuild the coupon list). Ids only, never coupon codes. */
  var plays = {
    key: function () {
      return "frolic.player.plays." + (state.auth ? state.auth.userId : "");
    },
    read: function () {
      try {
        var value = JSON.parse(window.sessionStorage.getItem(plays.key()) || "{}");
        return value && typeof value === "object" ? value : {};
      } catch (_) {
        return {};
      }
    },
    write: function (value) {
      try {
        window.sessionStorage.setItem(plays.key(), JSON.stringify(value));
      } catch (_) {
        /* ignore */
      }
    },
    setLast: function (last) {
      var value = plays.read();
      if (last) value.last = last;
      else delete value.last;
      plays.write(value);
    },
    addWon: function (playId) {
      var value = plays.read();
      var won = Array.isArray(value.won) ? value.won : [];
      if (won.indexOf(playId) < 0) won.push(playId);
      value.won = won.slice(-50);
      plays.write(value);
    },
    clear: function () {
      try {
        window.sessionStorage.removeItem(plays.key());
      } catch (_) {
        /* ignore */
      }
    },
  };

  // ---------------------------------------------------------------- connection status

  function setConnection(kind, text) {
    el.connection.dataset.state = kind;
    if (el.connection.textContent !== text) el.connection.textContent = text;
  }

  // ---------------------------------------------------------------- auth

  function renderAuth() {
    var signedIn = !!state.auth;
    el.signinForm.hidden = signedIn;
    el.signedIn.hidden = !signedIn;
    el.signedInName.textContent = signedIn ? state.auth.userId : "";
    if (!signedIn) setConnection("offline", "Not connected: sign in to play");
    updateSpinHint();
  }

  /** Off to the login page (Cognito's managed login, or the dev issuer locally), or
   *  with `signUp` to the page that makes an account. */
  function goSignIn(signUp) {
    el.signIn.disabled = true;
    el.signUp.disabled = true;
    F.showMessage(el.signinMessage, "busy", "Taking you to sign in\u2026");
    F.beginSignIn("player", { signUp: signUp }).catch(function (error) {
      el.signIn.disabled = false;
      el.signUp.disabled = false;
      F.showError(el.signinMessage, error);
    });
  }

  function signIn(event) {
    event.preventDefault();
    goSignIn(false);
  }

  /** Back from the login page, or a session kept from before. */
  function resumeSession() {
    return F.finishSignIn("player")
      .then(function (signedIn) {
        return signedIn || F.freshSession("player");
      })
      .catch(function (error) {
        F.showError(el.signinMessage, error);
        return null;
      });
  }

  function signOut() {
    plays.clear();
    state.auth = null;
    disconnect();
    abandonPlay();
    state.coupons = [];
    state.couponKeys = Object.create(null);
    state.walletCursor = null;
    el.moreCoupons.hidden = true;
    renderCoupons();
    F.replaceChildren(el.result);
    el.result.dataset.status = "none";
    renderAuth();
    F.showMessage(el.signinMessage, "info", "Signing out\u2026");
    F.signOut("player");
  }

  /** A 401 anywhere: the token is no longer good. */
  function sessionEnded() {
    if (!state.auth) return;
    state.auth = null;
    F.session.clear("player");
    disconnect();
    renderAuth();
    F.showMessage(el.signinMessage, "error", F.plainWords("unauthenticated"));
  }

  // ---------------------------------------------------------------- WebSocket

  function withTicket(url, ticket) {
    return url + (url.indexOf("?") >= 0 ? "&" : "?") + "ticket=" + encodeURIComponent(ticket);
  }

  function socketOpen() {
    return !!state.socket && state.socket.readyState === 1;
  }

  function connect(resetBackoff) {
    if (!state.auth) return;
    if (resetBackoff) state.reconnectAttempt = 0;
    if (state.ticketPending) return;
    if (state.socket && state.socket.readyState <= 1) return; // connecting or open
    clearTimeout(state.reconnectTimer);
    state.reconnectTimer = null;
    var serial = ++state.socketSerial;
    state.ticketPending = true;
    setConnection("connecting", "Connecting\u2026");
    F.request("/ws-ticket", { method: "POST", token: state.auth.token }).then(
      function (data) {
        if (serial !== state.socketSerial || !state.auth) return;
        state.ticketPending = false;
        if (!data || typeof data.ticket !== "string") {
          scheduleReconnect();
          return;
        }
        var socket;
        try {
          socket = new WebSocket(withTicket(F.wsBase(), data.ticket));
        } catch (_) {
          scheduleReconnect();
          return;
        }
        state.socket = socket;
        socket.addEventListener("open", function () {
          if (serial !== state.socketSerial) return;
          state.reconnectAttempt = 0;
          setConnection("live", "Connected: results arrive instantly");
          clearInterval(state.pingTimer);
          state.pingTimer = setInterval(function () {
            if (socketOpen()) state.socket.send(JSON.stringify({ action: "ping" }));
          }, PING_EVERY_MS);
        });
        socket.addEventListener("message", function (event) {
          if (serial !== state.socketSerial) return;
          onFrame(event.data);
        });
        socket.addEventListener("close", function () {
          if (state.socket === socket) state.socket = null;
          if (serial !== state.socketSerial) return; // replaced or signed out
          clearInterval(state.pingTimer);
          socketLost();
          scheduleReconnect();
        });
        // "error" is always followed by "close": nothing to do here
      },
      function (error) {
        if (serial !== state.socketSerial) return;
        state.ticketPending = false;
        if (error.status === 401) {
          sessionEnded();
          return;
        }
        scheduleReconnect();
      }
    );
  }

  function scheduleReconnect() {
    if (!state.auth) return;
    var base = BACKOFF_MS[Math.min(state.reconnectAttempt, BACKOFF_MS.length - 1)];
    var delay = Math.round(base * (0.75 + Math.random() * 0.5));
    state.reconnectAttempt += 1;
    var seconds = Math.max(1, Math.round(delay / 1000));
    var offline = navigator.onLine === false;
    setConnection(
      "retrying",
      (offline ? "Offline" : "Connection lost") +
        ": retrying in " + seconds + " s (you can still spin)"
    );
    clearTimeout(state.reconnectTimer);
    state.reconnectTimer = setTimeout(function () {
      state.reconnectTimer = null;
      connect(false);
    }, delay);
  }

  function disconnect() {
    state.socketSerial += 1; // every pending callback of the old socket bails out
    state.ticketPending = false;
    clearTimeout(state.reconnectTimer);
    state.reconnectTimer = null;
    clearInterval(state.pingTimer);
    if (state.socket) {
      try {
        state.socket.close(1000, "bye");
      } catch (_) {
        /* ignore */
      }
    }
    state.socket = null;
  }

  /** The socket dropped: a play sent on it may never be answered there. */
  function socketLost() {
    var play = state.play;
    if (!play || play.finished) return;
    if (play.via === "ws" && !play.acked) {
      sendRest(play);
    } else if (play.decisionReached) {
      startPolling(play);
    }
  }

  function onFrame(raw) {
    var msg;
    try {
      msg = JSON.parse(raw);
    } catch (_) {
      return;
    }
    if (!msg || typeof msg !== "object" || typeof msg.type !== "string") return;
    var play = state.play;
    var mine = play && !play.finished && msg.playId === play.playId;
    switch (msg.type) {
      case "pong":
        return;
      case "queued":
        if (mine) {
          markAcked(play);
          // a resend of a play already decided answers with its final status; its push
          // went out long ago, so read the result now
          if (FINAL[msg.status]) startPolling(play);
        }
        return;
      case "result":
        if (typeof msg.playId !== "string" || state.shown[msg.playId]) return; // duplicate
        if (mine && FINAL[msg.status]) {
          markAcked(play);
          acceptResult(play, msg);
        }
        return;
      case "error":
        onErrorFrame(msg, play, mine);
        return;
      default:
        return;
    }
  }

  function onErrorFrame(msg, play, mine) {
    var code = typeof msg.error === "string" ? msg.error : "error";
    if (code === "unauthenticated") {
      // the socket lost its owner (e.g. its session expired): open a fresh one, and
      // let REST carry a play that was waiting for an answer
      if (state.socket) state.socket.close(4000, "reauth");
      if (play && !play.finished && play.via === "ws" && !play.acked) sendRest(play);
      return;
    }
    var aboutOurPlay = mine || (play && !play.finished && play.via === "ws" && !play.acked && !msg.playId);
    if (aboutOurPlay) {
      markAcked(play);
      refuse(play, code, msg.message, msg.fields, Number(msg.retryAfter) || 0);
      return;
    }
    // an error not tied to the play on screen: say so without disturbing it
    setConnection(socketOpen() ? "live" : "retrying", "Connected, but: " + F.plainWords(code, msg.message));
  }

  // ---------------------------------------------------------------- playing

  function currentGameId() {
    return el.gameId.value.trim();
  }

  function validGameId(gameId) {
    return F.IDENTIFIER.test(gameId);
  }

  function cooldownLeftMs() {
    return Math.max(0, state.cooldownUntil - performance.now());
  }

  function setCooldown(ms) {
    state.cooldownUntil = Math.max(state.cooldownUntil, performance.now() + ms);
    tickCooldown();
  }

  function tickCooldown() {
    clearTimeout(state.cooldownTimer);
    updateSpinHint();
    var left = cooldownLeftMs();
    if (left > 0) state.cooldownTimer = setTimeout(tickCooldown, Math.min(1000, left + 20));
  }

  function updateSpinHint() {
    var busy = !!(state.play && !state.play.finished);
    var cooling = !busy && cooldownLeftMs() > 0;
    el.spin.setAttribute("aria-disabled", busy || cooling ? "true" : "false");
    el.spin.textContent = busy ? "SPINNING\u2026" : "SPIN";
    var hint;
    if (!state.auth) hint = "Sign in to play.";
    else if (!currentGameId()) hint = "Enter a game id to play.";
    else if (!validGameId(currentGameId())) hint = "That game id doesn't look right.";
    else if (busy) hint = "Good luck!";
    else if (cooling) hint = "You can spin again in " + Math.ceil(cooldownLeftMs() / 1000) + " s.";
    else hint = "Press SPIN (or Enter / Space) to play.";
    if (el.spinHint.textContent !== hint) el.spinHint.textContent = hint;
  }

  function onGameInput() {
    var gameId = currentGameId();
    var bad = gameId !== "" && !validGameId(gameId);
    if (bad) el.gameId.setAttribute("aria-invalid", "true");
    else el.gameId.removeAttribute("aria-invalid");
    if (gameId && !bad) rememberGame(gameId);
    markChosenGame();
    updateSpinHint();
  }

  // ---------------------------------------------------------------- the game list

  /** "Live until 18:30", "Starts Fri 09:00": the window in the player's own clock. */
  function gameWhen(game, now) {
    var start = new Date(game.startTime);
    var end = new Date(game.endTime);
    var sameDay = function (d) {
      return d.toDateString() === now.toDateString();
    };
    var at = function (d) {
      var time = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      return sameDay(d) ? time : d.toLocaleDateString([], { weekday: "short", day: "numeric", month: "short" }) + " " + time;
    };
    if (game.status === "LIVE" && start <= now) return "Live now, until " + at(end);
    if (start <= now) return "Opening soon, until " + at(end); // scheduled, not yet live
    return "Starts " + at(start);
  }

  function chooseGame(event) {
    var gameId = event.currentTarget.dataset.gameId;
    if (!validGameId(gameId)) return;
    event.preventDefault();
    el.gameId.value = gameId;
    window.history.replaceState(null, "", "?game=" + encodeURIComponent(gameId));
    onGameInput();
    el.spin.focus();
  }

  function markChosenGame() {
    var chosen = currentGameId();
    Array.prototype.forEach.call(el.games.querySelectorAll("a[data-game-id]"), function (link) {
      if (link.dataset.gameId === chosen) link.setAttribute("aria-current", "true");
      else link.removeAttribute("aria-current");
    });
  }

  function renderGames(games) {
    var now = new Date();
    F.replaceChildren(
      el.games,
      games.map(function (game) {
        var brands = (game.brands || []).map(function (b) {
          return b.name || b.brandId;
        });
        return F.h(
          "li",
          { className: "game" },
          F.h("a", {
            className: "game-link",
            text: game.name,
            attrs: { href: "?game=" + encodeURIComponent(game.gameId) },
            dataset: { gameId: game.gameId },
            on: { click: chooseGame },
          }),
          F.h("span", { className: "game-when", text: gameWhen(game, now) }),
          brands.length ? F.h("span", { className: "game-brands", text: "Win: " + brands.join(", ") }) : null
        );
      })
    );
    el.gamesMessage.textContent = games.length ? "" : "No games on right now. Have a game link? Enter its id below.";
    markChosenGame();
  }

  /** The public list: no sign-in needed, so a visitor sees what there is to play first. */
  function loadGames() {
    el.gamesMessage.textContent = "Looking for games\u2026";
    return F.request("/games")
      .then(function (body) {
        renderGames((body && body.games) || []);
      })
      .catch(function (error) {
        el.gamesMessage.textContent = "Couldn't load the games (" + F.plainWords(error.code, error.message) + "). You can still enter a game id.";
      });
  }

  function newPlay(gameId) {
    var playId = F.newPlayId();
    return {
      playId: playId,
      gameId: gameId,
      payload: { playId: playId, gameId: gameId }, // identical on every resend
      startedAt: performance.now(),
      via: null,
      acked: false,
      decisionReached: false,
      result: null,
      polling: false,
      pollDeadline: 0,
      reposted: false,
      postAttempts: 0,
      stopping: false,
      finished: false,
      timers: [],
    };
  }

  function later(play, fn, ms) {
    var id = setTimeout(function () {
      if (state.play === play && !play.finished) fn();
    }, ms);
    play.timers.push(id);
    return id;
  }

  function spin() {
    if (state.play && !state.play.finished) return; // one spin at a time
    if (cooldownLeftMs() > 0) {
      updateSpinHint();
      return;
    }
    if (!state.auth) {
      F.showMessage(el.signinMessage, "error", "Sign in first, then spin.");
      el.signIn.focus();
      return;
    }
    var gameId = currentGameId();
    if (!validGameId(gameId)) {
      el.gameId.setAttribute("aria-invalid", "true");
      showPlain("error", gameId ? "That game id doesn't look right." : "Enter a game id first.",
        "Game ids use letters, digits and . _ : - (up to 64).");
      el.gameId.focus();
      return;
    }
    rememberGame(gameId);

    var play = newPlay(gameId);
    state.play = play;
    setCooldown(MIN_SPIN_GAP_MS);
    plays.setLast({ playId: play.playId, gameId: gameId });
    updateSpinHint();
    el.machine.dataset.state = "spinning";
    el.reels.setAttribute("aria-label", "The reels are spinning");
    el.result.dataset.status = "spinning";
    el.result.dataset.playId = play.playId;
    F.replaceChildren(el.result, h("p", { className: "result-note", text: "Spinning\u2026 your result comes in about ten seconds." }));
    reels.start(F.prefersReducedMotion());
    startProgress(play);

    if (socketOpen()) {
      play.via = "ws";
      try {
        state.socket.send(JSON.stringify({ action: "play", playId: play.playId, gameId: gameId }));
        later(play, function () {
          if (!play.acked) sendRest(play); // the socket swallowed it: resending is safe
        }, WS_ACK_MS);
      } catch (_) {
        sendRest(play);
      }
    } else {
      sendRest(play);
    }
    later(play, function () {
      decisionPoint(play);
    }, DECIDE_AT_MS);
  }

  function markAcked(play) {
    play.acked = true;
  }

  /** POST /plays with the play's one payload. Safe to repeat. */
  function sendRest(play) {
    if (play.finished || play.sendingRest) return;
    play.via = "rest";
    play.sendingRest = true;
    play.postAttempts += 1;
    F.request("/plays", { method: "POST", token: state.auth && state.auth.token, json: play.payload }).then(
      function (data) {
        play.sendingRest = false;
        if (play.finished) return;
        markAcked(play);
        if (data && FINAL[data.status]) startPolling(play); // already decided earlier
        else if (play.decisionReached) startPolling(play);
      },
      function (error) {
        play.sendingRest = false;
        if (play.finished) return;
        if (error.status === 401) {
          sessionEnded();
          fail(play, error);
        } else if (error.status >= 400 && error.status < 500) {
          refuse(play, error.code, error.message, error.fields, error.retryAfter);
        } else if (play.postAttempts <= POST_RETRIES) {
          later(play, function () {
            sendRest(play);
          }, 1000 * play.postAttempts);
        } else {
          fail(play, error);
        }
      }
    );
  }

  /** ~7.6 s in: stop the reels if the result is known, else go and ask for it. */
  function decisionPoint(play) {
    play.decisionReached = true;
    if (play.result) {
      stopReels(play, 0, STOP_STAGGER_MS);
    } else {
      startPolling(play);
    }
  }

  function startPolling(play) {
    if (play.polling || play.finished || play.result) return;
    play.polling = true;
    play.pollDeadline = performance.now() + POLL_FOR_MS;
    pollOnce(play);
  }

  function pollOnce(play) {
    if (play.finished || play.result || !state.auth) return;
    F.request("/plays/" + encodeURIComponent(play.playId), { token: state.auth.token, timeoutMs: 5000 }).then(
      function (data) {
        if (play.finished || play.result) return;
        if (data && FINAL[data.status]) {
          acceptResult(play, data);
        } else {
          nextPoll(play);
        }
      },
      function (error) {
        if (play.finished || play.result) return;
        if (error.status === 401) {
          sessionEnded();
          fail(play, error);
          return;
        }
        if (error.status === 404 && play.recovered) {
          // a spin from before a reload that never reached Frolic
          refuse(play, "spin_not_found", "");
          return;
        }
        if (error.status === 404 && !play.reposted) {
          // the play never got in (e.g. the socket dropped the message): send it again
          play.reposted = true;
          sendRest(play);
        }
        nextPoll(play);
      }
    );
  }

  function nextPoll(play) {
    if (performance.now() >= play.pollDeadline) {
      play.polling = false;
      unknownResult(play);
      return;
    }
    later(play, function () {
      pollOnce(play);
    }, POLL_EVERY_MS);
  }

  /** A final result for the play on screen (from a push or from REST). */
  function acceptResult(play, data) {
    if (play.result || play.finished) return;
    play.result = {
      status: data.status,
      reason: typeof data.reason === "string" ? data.reason : null,
      coupons: couponsOf(data),
    };
    if (play.recovered) {
      reels.show(outcomeSymbols(play.result.status));
      finish(play);
    } else if (play.decisionReached) {
      stopReels(play, 0, LATE_STAGGER_MS);
    }
    // else: the reels keep spinning until the decision point
  }

  /** The coupon's offer, its fields checked: only an https terms link is ever linked. */
  function offerOf(offer) {
    if (!offer || typeof offer !== "object" || typeof offer.title !== "string") return null;
    var text = function (v) {
      return typeof v === "string" ? v : "";
    };
    var until = offer.validUntil ? new Date(offer.validUntil) : null;
    return {
      title: offer.title,
      description: text(offer.description),
      value: text(offer.value),
      termsUrl: /^https:\/\//.test(text(offer.termsUrl)) ? offer.termsUrl : "",
      validUntil: until && !isNaN(until.getTime()) ? until : null,
    };
  }

  function offerBlock(offer) {
    if (!offer) return null;
    var heading = offer.value ? offer.title + " \u00b7 " + offer.value : offer.title;
    return h("div", { className: "coupon-offer" },
      h("p", { className: "offer-title", text: heading }),
      offer.description ? h("p", { className: "offer-description", text: offer.description }) : null,
      offer.validUntil
        ? h("p", { className: "offer-until" }, offer.validUntil < new Date() ? "Offer ended " : "Use it by ",
            h("time", { attrs: { datetime: offer.validUntil.toISOString() },
              text: offer.validUntil.toLocaleString([], { dateStyle: "medium", timeStyle: "short" }) }))
        : null,
      offer.termsUrl
        ? h("a", { className: "offer-terms", text: "Terms", attrs: { href: offer.termsUrl, target: "_blank", rel: "noopener noreferrer" } })
        : null
    );
  }

  function couponsOf(data) {
    var list = Array.isArray(data.coupons) && data.coupons.length ? data.coupons : data.coupon ? [data.coupon] : [];
    return list
      .filter(function (c) {
        return c && typeof c === "object" && typeof c.code === "string";
      })
      .map(couponView);
  }

  function couponView(c) {
    return {
      brandId: String(c.brandId || ""),
      brandName: typeof c.brandName === "string" ? c.brandName : "",
      code: c.code,
      offer: offerOf(c.offer),
      status: typeof c.status === "string" ? c.status : "issued",
    };
  }

  /** The play was refused (REST 4xx or a WebSocket error frame): stop now and say why. */
  function refuse(play, code, message, fields, retryAfter) {
    if (play.result || play.finished) return;
    play.result = {
      status: "rejected",
      reason: code,
      detail: message || "",
      fields: fields || [],
      retryAfter: retryAfter || 0,
    };
    if (retryAfter > 0) setCooldown(retryAfter * 1000);
    if (play.recovered) finish(play);
    else stopReels(play, 0, LATE_STAGGER_MS);
  }

  /** Could not reach the API at all. */
  function fail(play, error) {
    if (play.result || play.finished) return;
    play.result = { status: "error", error: error };
    if (play.recovered) finish(play);
    else stopReels(play, 0, LATE_STAGGER_MS);
  }

  /** Polled for ~20 s and it is still pending. */
  function unknownResult(play) {
    if (play.result || play.finished) return;
    play.result = { status: "unknown" };
    if (play.recovered) finish(play);
    else stopReels(play, 0, LATE_STAGGER_MS);
  }

  function stopReels(play, delayMs, staggerMs) {
    if (play.stopping) return;
    play.stopping = true;
    reels.stop(outcomeSymbols(play.result.status), delayMs, staggerMs, function () {
      if (state.play === play) finish(play);
    });
  }

  function finish(play) {
    if (play.finished) return;
    play.finished = true;
    play.timers.forEach(clearTimeout);
    play.timers = [];
    stopProgress(false);
    el.machine.dataset.state = play.result.status === "won" ? "won" : "idle";
    var shownSymbols = reels.centerSymbols().map(function (s) {
      return s.label;
    });
    el.reels.setAttribute("aria-label", "The reels show " + shownSymbols.join(", "));
    showResult(play);
    if (play.result.status !== "unknown") {
      state.shown[play.playId] = true;
      plays.setLast(null);
    }
    updateSpinHint();
  }

  /** Forget the play on screen (sign-out). */
  function abandonPlay() {
    var play = state.play;
    if (!play) return;
    play.finished = true;
    play.timers.forEach(clearTimeout);
    play.timers = [];
    stopProgress(true);
    state.play = null;
    el.machine.dataset.state = "idle";
    if (reels.reels.some(function (r) { return r.phase !== "idle"; })) {
      reels.stop(outcomeSymbols("lost"), 0, 0, null);
    }
  }

  // ---------------------------------------------------------------- progress

  var progressTimer = null;

  function startProgress(play) {
    stopProgress(true);
    var tick = function () {
      var elapsed = performance.now() - play.startedAt;
      var fraction = Math.min(1, elapsed / SPIN_MS);
      el.progressBar.style.transform = "scaleX(" + fraction.toFixed(3) + ")";
      if (elapsed < SPIN_MS) {
        el.countdown.textContent = Math.ceil((SPIN_MS - elapsed) / 1000) + " s";
      } else {
        el.countdown.textContent = "Checking your result\u2026";
      }
    };
    tick();
    progressTimer = setInterval(tick, 200);
  }

  function stopProgress(reset) {
    clearInterval(progressTimer);
    progressTimer = null;
    el.countdown.textContent = "";
    el.progressBar.style.transform = reset ? "scaleX(0)" : "scaleX(1)";
  }

  // ---------------------------------------------------------------- results

  function showPlain(status, title, detail) {
    el.result.dataset.status = status;
    F.replaceChildren(
      el.result,
      h("div", { className: "result-card result-" + status },
        h("p", { className: "result-title", text: title }),
        detail ? h("p", { className: "result-detail", text: detail }) : null)
    );
  }

  function brandText(coupon) {
    return coupon.brandName || coupon.brandId || "our partner";
  }

  function showResult(play) {
    var r = play.result;
    el.result.dataset.playId = play.playId;
    if (r.status === "won" && r.coupons.length) {
      el.result.dataset.status = "won";
      var card = h("div", { className: "result-card result-won" },
        h("p", { className: "result-title", text: "\u2605 You won! \u2605" }),
        r.coupons.map(function (coupon, i) {
          return couponBlock(coupon, i === 0 ? "coupon-code" : null);
        })
      );
      F.replaceChildren(el.result, card);
      r.coupons.forEach(function (coupon) {
        addCoupon(play.playId, coupon);
      });
      plays.addWon(play.playId);
      return;
    }
    if (r.status === "won") {
      // won but no code in the answer (should not happen): REST will have it
      showPlain("won", "\u2605 You won! \u2605", "Your coupon is on its way. Reload the page in a moment to see it.");
      plays.addWon(play.playId);
      return;
    }
    if (r.status === "lost") {
      showPlain("lost", "No luck this time.",
        r.reason ? F.plainWords(r.reason, "Better luck on your next spin!") : "Better luck on your next spin!");
      return;
    }
    if (r.status === "rejected" || r.status === "expired") {
      var d = F.describeError({ code: r.reason, message: r.detail, fields: r.fields });
      var words = d.title;
      if (r.reason === "too_many_plays" && r.retryAfter > 0) {
        words = "One spin at a time: you can spin again in " + r.retryAfter + " s.";
      }
      showPlain(r.status, "This spin didn't count.", [words].concat(d.fields).join(" "));
      return;
    }
    if (r.status === "unknown") {
      el.result.dataset.status = "unknown";
      F.replaceChildren(el.result,
        h("div", { className: "result-card result-unknown" },
          h("p", { className: "result-title", text: "We're still waiting for this spin's result." }),
          h("p", { className: "result-detail", text: "It can take a moment when lots of people are playing." }),
          h("button", { id: "check-again", className: "button button-quiet", attrs: { type: "button" },
            on: { click: function () { checkAgain(play); } }, text: "Check again" })
        ));
      return;
    }
    var described = F.describeError(r.error);
    showPlain("error", "Your spin couldn't be sent.", [described.title].concat(described.fields).join(" "));
  }

  function couponBlock(coupon, id) {
    var code = h("code", { className: "coupon-code", text: coupon.code });
    if (id) code.id = id;
    var feedback = h("span", { className: "copy-feedback", attrs: { "aria-live": "polite" } });
    var button = h("button", {
      className: "button copy-button",
      attrs: { type: "button", "aria-label": "Copy code of the " + brandText(coupon) + " coupon" },
      text: "Copy code",
      on: {
        click: function () {
          F.copyText(coupon.code).then(function (ok) {
            feedback.textContent = ok ? "Copied!" : "Select the code and copy it.";
            if (!ok) selectText(code);
          });
        },
      },
    });
    if (id === "coupon-code") button.id = "copy-code";
    var redeemed = coupon.status === "redeemed";
    return h("div", { className: redeemed ? "coupon coupon-redeemed" : "coupon", dataset: { status: coupon.status || "issued" } },
      h("p", { className: "coupon-brand" }, "A coupon from ", h("strong", { text: brandText(coupon) })),
      redeemed ? h("p", { className: "coupon-status", text: "Redeemed: already used at the till" }) : null,
      offerBlock(coupon.offer),
      h("div", { className: "coupon-row" }, code, button, feedback)
    );
  }

  function selectText(node) {
    var range = document.createRange();
    range.selectNodeContents(node);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function checkAgain(play) {
    if (state.play !== play) return;
    play.finished = false;
    play.result = null;
    play.stopping = false;
    play.polling = false;
    play.recovered = true; // no reels this time: just ask
    el.result.dataset.status = "waiting";
    F.replaceChildren(el.result, h("p", { className: "result-note", text: "Checking your result\u2026" }));
    updateSpinHint();
    startPolling(play);
  }

  // ---------------------------------------------------------------- coupon list

  /** `older`: from the wallet, listed after what is there; a new win goes first. */
  function addCoupon(playId, coupon, older) {
    var key = playId + "|" + coupon.brandId + "|" + coupon.code;
    if (state.couponKeys[key]) {
      // Listed already (by the push): the wallet knows whether it has since been used.
      state.coupons.forEach(function (listed) {
        if (older && listed.playId === playId && listed.code === coupon.code) listed.status = coupon.status;
      });
      renderCoupons();
      return;
    }
    state.couponKeys[key] = true;
    state.coupons[older ? "push" : "unshift"]({
      playId: playId,
      brandId: coupon.brandId,
      brandName: coupon.brandName,
      code: coupon.code,
      offer: coupon.offer,
      status: coupon.status,
    });
    renderCoupons();
  }

  /**
   * The wallet: every coupon this player has won, on any device, newest first. The
   * first page comes after sign-in; older pages on request. A coupon won in this visit
   * is listed once, whichever of the push and the wallet brought it first.
   */
  function loadWallet(cursor) {
    if (!state.auth) return Promise.resolve();
    var userId = state.auth.userId;
    var path = "/me/coupons?limit=20" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "");
    el.moreCoupons.disabled = true;
    return F.request(path, { token: state.auth.token }).then(
      function (page) {
        if (!state.auth || state.auth.userId !== userId) return; // signed out meanwhile
        ((page && page.coupons) || []).forEach(function (c) {
          if (c && typeof c.code === "string" && typeof c.playId === "string") addCoupon(c.playId, couponView(c), true);
        });
        state.walletCursor = page && typeof page.cursor === "string" ? page.cursor : null;
        el.moreCoupons.hidden = !state.walletCursor;
        el.moreCoupons.disabled = false;
        renderCoupons();
      },
      function (error) {
        el.moreCoupons.disabled = false;
        if (error.status === 401) sessionEnded();
      }
    );
  }

  function renderCoupons() {
    el.couponsSection.hidden = state.coupons.length === 0;
    F.replaceChildren(el.coupons, state.coupons.map(function (coupon) {
      return h("li", null, couponBlock(coupon, null));
    }));
  }

  /** After a reload: finish the play that was spinning, and list this visit's coupons. */
  function recover() {
    var saved = plays.read();
    var won = Array.isArray(saved.won) ? saved.won.filter(function (id) {
      return typeof id === "string" && F.IDENTIFIER.test(id);
    }) : [];
    won.reduce(function (chain, playId) {
      return chain.then(function () {
        if (!state.auth) return null;
        return F.request("/plays/" + encodeURIComponent(playId), { token: state.auth.token }).then(
          function (data) {
            state.shown[playId] = true;
            couponsOf(data || {}).forEach(function (c) {
              addCoupon(playId, c);
            });
          },
          function () {
            /* gone or unreachable: skip */
          }
        );
      });
    }, Promise.resolve());

    var last = saved.last;
    if (last && typeof last.playId === "string" && F.IDENTIFIER.test(last.playId) &&
        typeof last.gameId === "string" && !state.play) {
      var play = newPlay(last.gameId);
      play.playId = last.playId;
      play.payload = { playId: last.playId, gameId: last.gameId };
      play.recovered = true;
      play.acked = true;
      play.decisionReached = true;
      state.play = play;
      updateSpinHint();
      el.result.dataset.status = "waiting";
      el.result.dataset.playId = play.playId;
      F.replaceChildren(el.result, h("p", { className: "result-note", text: "Checking the result of your last spin\u2026" }));
      startPolling(play);
    }
  }

  // ---------------------------------------------------------------- wiring

  function init() {
    el.signinForm.addEventListener("submit", signIn);
    el.signUp.addEventListener("click", function () {
      goSignIn(true);
    });
    el.signOut.addEventListener("click", signOut);
    el.gameId.addEventListener("input", onGameInput);
    el.gameId.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        event.preventDefault();
        spin();
      }
    });
    el.spin.addEventListener("click", spin);
    el.moreCoupons.addEventListener("click", function () {
      loadWallet(state.walletCursor);
    });

    window.addEventListener("online", function () {
      if (state.auth && !socketOpen()) connect(true);
    });
    window.addEventListener("offline", function () {
      if (state.auth && !socketOpen()) setConnection("retrying", "Offline: waiting for the network");
    });
    document.addEventListener("visibilitychange", function () {
      // back on the page: don't make the player wait out the backoff
      if (document.visibilityState === "visible" && state.auth && !socketOpen()) connect(true);
    });

    F.keepSessionFresh("player", state, sessionEnded);
    loadGames();

    // After the session: a sign-in brings the page's ?game=… back with it.
    resumeSession().then(function (signedIn) {
      var fromUrl = new URLSearchParams(window.location.search).get("game");
      if (fromUrl && validGameId(fromUrl.trim())) {
        el.gameId.value = fromUrl.trim();
        rememberGame(fromUrl.trim());
      } else {
        el.gameId.value = rememberedGame();
      }
      state.auth = signedIn;
      renderAuth();
      onGameInput();
      if (state.auth) {
        connect(true);
        recover();
        loadWallet(null);
      }
    });
  }

  init();
})();
