/*
 * Frolic — shared browser code for the player page (index.html) and the admin page
 * (admin.html). Plain script, no build step, no dependencies.
 *
 * Rules this file keeps for both pages:
 *  - server and user data reach the DOM only through textContent / DOM APIs (never
 *    innerHTML), and nothing is ever eval'd;
 *  - bearer tokens live in sessionStorage only;
 *  - coupon codes never go into a URL or a console message.
 *
 * Exposes one global, `Frolic`.
 */
(function () {
  "use strict";

  // ---------------------------------------------------------------- configuration

  function metaContent(name) {
    var tag = document.querySelector('meta[name="' + name + '"]');
    var value = tag ? tag.getAttribute("content") : "";
    return (value || "").trim();
  }

  /** API base URL: `<meta name="frolic-api">`, empty means the page's own origin. */
  function apiBase() {
    return metaContent("frolic-api").replace(/\/+$/, "");
  }

  /** WebSocket URL: `<meta name="frolic-ws">`, empty means ws(s)://<this host>/ws. */
  function wsBase() {
    var configured = metaContent("frolic-ws");
    if (configured) return configured;
    var scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    return scheme + "//" + window.location.host + "/ws";
  }

  // ---------------------------------------------------------------- errors

  /** Every failed API call rejects with one of these. status 0 = never got an answer. */
  function ApiError(status, code, message, fields, retryAfter) {
    var error = new Error(message || code || "request failed");
    error.name = "ApiError";
    error.status = status;
    error.code = code || "error";
    error.fields = Array.isArray(fields) ? fields : [];
    error.retryAfter = retryAfter > 0 ? retryAfter : 0; // seconds, from a 429
    return error;
  }

  /** Plain words for the stable error codes the API and the result items use. */
  var PLAIN_WORDS = {
    // ingest refusals (REST 404/409, WebSocket error frames) and result reasons
    unknown_game: "There is no game with that id. Check the game id and try again.",
    game_not_live: "This game isn't live right now. Try again when it has started.",
    outside_window:
      "This game isn't open at the moment: it hasn't started yet or it has already finished.",
    play_id_taken: "That spin could not be used. Please spin again.",
    play_id_reused_with_other_payload: "That spin could not be used. Please spin again.",
    malformed_play: "Something was wrong with that spin. Please spin again.",
    no_result_before_reel_stopped:
      "We couldn't decide this spin in time, so it didn't count. Please spin again.",
    spin_not_found: "Your last spin never reached Frolic, so it didn't count. Please spin again.",
    too_many_plays: "One spin at a time: please wait a few seconds before spinning again.",
    win_limit_reached: "You've already won as many coupons as this game allows.",
    // generic API answers
    invalid_request: "Some of what was sent isn't valid.",
    invalid_json: "The message could not be read.",
    invalid_message: "The message could not be read.",
    message_too_large: "The message was too large.",
    unknown_action: "The server did not understand the request.",
    unauthenticated: "Your session has ended. Please sign in again.",
    forbidden: "This account isn't allowed to do that.",
    not_found: "That was not found.",
    payload_too_large: "That is too large to send.",
    unsupported_media_type: "The server can't read that kind of file.",
    no_budget: "Set this brand's budget for the game before adding coupons.",
    conflict: "That conflicts with what is already stored.",
    // signing in (Cognito's managed login in AWS, the dev issuer locally)
    sign_in_failed: "Signing in didn't finish. Please try again.",
    sign_in_expired: "Your sign-in has ended. Please sign in again.",
    sign_in_unavailable: "Signing in isn't working right now. Please try again later.",
    sign_in_misconfigured: "This page's sign-in isn't set up correctly. Please tell the organiser.",
    not_a_marketer_account: "This account isn't a staff account (marketer, brand manager or till).",
    not_a_player_account: "This is a staff account. Sign in with a player account to play.",
    too_many_requests: "Too many tries in a short time. Wait a moment, then try again.",
    network: "Can't reach Frolic. Check your connection and try again.",
    timeout: "Frolic took too long to answer. Please try again.",
    bad_response: "Frolic sent an answer we could not read. Please try again.",
  };

  function plainWords(code, fallback) {
    if (code && Object.prototype.hasOwnProperty.call(PLAIN_WORDS, code)) return PLAIN_WORDS[code];
    return fallback || "Something went wrong. Please try again.";
  }

  /** One line per field problem: "startTime: must be before endTime". */
  function fieldLines(error) {
    var fields = (error && error.fields) || [];
    return fields
      .filter(function (f) {
        return f && typeof f === "object";
      })
      .map(function (f) {
        return String(f.field || "?") + ": " + String(f.message || "is not valid");
      });
  }

  function sameWords(a, b) {
    var norm = function (s) {
      return String(s || "").toLowerCase().replace(/[^a-z0-9]+/g, " ").trim();
    };
    return norm(a) === norm(b);
  }

  /**
   * A short, friendly description of an ApiError (or any Error) for the page:
   * { title, detail, fields[] }. `detail` is the server's own message when it adds
   * something to the plain words.
   */
  function describeError(error) {
    if (!error) return { title: plainWords(null), detail: "", fields: [] };
    var code = error.code;
    var title = plainWords(code, null);
    var detail = error.message && error.message !== code ? String(error.message) : "";
    if (!title) {
      if (error.status === 401) title = PLAIN_WORDS.unauthenticated;
      else if (error.status === 403) title = PLAIN_WORDS.forbidden;
      else if (error.status === 429) {
        title = "Lots of people are playing right now. Please try again in a moment.";
      } else if (error.status >= 500) title = "Frolic had a problem answering. Please try again.";
      else title = detail || plainWords(null);
    }
    if (sameWords(title, detail)) detail = "";
    return { title: title, detail: detail, fields: fieldLines(error) };
  }

  // ---------------------------------------------------------------- HTTP

  var DEFAULT_TIMEOUT_MS = 15000;

  /**
   * fetch() with a deadline that covers the body too. Resolves with
   * { response, text }; rejects with ApiError "timeout" or "network" (status 0).
   */
  function fetchText(url, init, timeoutMs) {
    var controller = typeof AbortController === "function" ? new AbortController() : null;
    var timedOut = false;
    var timer = controller
      ? setTimeout(function () {
          timedOut = true;
          controller.abort();
        }, timeoutMs || DEFAULT_TIMEOUT_MS)
      : null;
    init.signal = controller ? controller.signal : undefined;
    return fetch(url, init)
      .then(function (response) {
        return response.text().then(function (text) {
          return { response: response, text: text };
        });
      })
      .catch(function () {
        if (timedOut) throw ApiError(0, "timeout", "");
        throw ApiError(0, "network", "");
      })
      .finally(function () {
        if (timer) clearTimeout(timer);
      });
  }

  /** A JSON body, null when empty, undefined when it is not JSON. */
  function parseJson(text) {
    if (!text) return null;
    try {
      return JSON.parse(text);
    } catch (_) {
      return undefined;
    }
  }

  /**
   * Call the REST API. Resolves with the parsed JSON body (or null for an empty body);
   * rejects with an ApiError. options: method, token, json (a value to send as JSON),
   * body + contentType (anything else, e.g. a File as text/csv), timeoutMs.
   */
  function request(path, options) {
    options = options || {};
    var headers = { Accept: "application/json" };
    var body;
    if (options.json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(options.json);
    } else if (options.body !== undefined) {
      if (options.contentType) headers["Content-Type"] = options.contentType;
      body = options.body;
    }
    if (options.token) headers.Authorization = "Bearer " + options.token;

    var init = {
      method: options.method || "GET",
      headers: headers,
      body: body,
      credentials: "omit",
      cache: "no-store",
    };
    return fetchText(apiBase() + path, init, options.timeoutMs).then(function (answer) {
      var response = answer.response;
      var data = parseJson(answer.text);
      if (response.ok) {
        if (data === undefined) throw ApiError(response.status, "bad_response", "");
        return data;
      }
      var retryAfter = Number(
        (data && data.retryAfter) || response.headers.get("Retry-After") || 0
      );
      if (data && typeof data === "object" && typeof data.error === "string") {
        throw ApiError(response.status, data.error, data.message || "", data.fields, retryAfter);
      }
      var text2 = data && typeof data.message === "string" ? data.message : "";
      throw ApiError(
        response.status,
        "http_" + response.status,
        text2 || "HTTP " + response.status,
        null,
        retryAfter
      );
    });
  }

  // ---------------------------------------------------------------- auth

  /**
   * Where the pages sign in: `<meta name="frolic-auth" content="clientId=…; domain=https://…">`,
   * Cognito's managed login in AWS. An empty tag (the local stack) means the dev issuer
   * on this origin, which answers the same endpoints: one sign-in code path for both.
   * { invalid: true } when the tag is set but unusable, so the page says so.
   */
  function identityProvider() {
    var raw = metaContent("frolic-auth");
    if (!raw) {
      return { clientId: "frolic-local", domain: pageOrigin() + "/dev" };
    }
    var setting = {};
    raw.split(";").forEach(function (pair) {
      var at = pair.indexOf("=");
      if (at > 0) setting[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
    });
    var clientId = setting.clientId || "";
    var domain = (setting.domain || "").replace(/\/+$/, "");
    // Both end up in URLs the browser is sent to: accept only what AWS issues.
    if (!/^[A-Za-z0-9]{1,128}$/.test(clientId) || !/^https:\/\/[a-z0-9.-]+$/.test(domain)) {
      return { invalid: true };
    }
    return { clientId: clientId, domain: domain };
  }

  function pageOrigin() {
    return window.location.protocol + "//" + window.location.host;
  }

  /** Managed login returns only to a page's own URL (CloudFront: / and /admin). */
  function returnUrl(role) {
    return pageOrigin() + (role === "admin" ? "/admin" : "/");
  }

  var OAUTH_SCOPE = "openid email profile";
  /** Refresh this long before the ID token expires (and at once on a page that wakes). */
  var REFRESH_MARGIN_MS = 5 * 60 * 1000;

  function base64Url(bytes) {
    var binary = "";
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function randomText(byteCount) {
    var bytes = new Uint8Array(byteCount);
    window.crypto.getRandomValues(bytes);
    return base64Url(bytes);
  }

  /** PKCE's S256 challenge of a verifier (RFC 7636). */
  function codeChallenge(verifier) {
    return window.crypto.subtle
      .digest("SHA-256", new TextEncoder().encode(verifier))
      .then(function (digest) {
        return base64Url(new Uint8Array(digest));
      });
  }

  /** The sign-in under way, kept across the trip to the login page and back. */
  var pending = {
    key: "frolic.signin.pending",
    put: function (value) {
      window.sessionStorage.setItem(pending.key, JSON.stringify(value));
    },
    take: function () {
      try {
        var raw = window.sessionStorage.getItem(pending.key);
        window.sessionStorage.removeItem(pending.key);
        return raw ? JSON.parse(raw) : null;
      } catch (_) {
        return null;
      }
    },
  };

  /**
   * Send the browser to the login page (or, with opts.signUp, the sign-up page), with a
   * fresh state and PKCE verifier. Rejects only when it cannot go.
   */
  function beginSignIn(role, opts) {
    var provider = identityProvider();
    if (provider.invalid) return Promise.reject(ApiError(0, "sign_in_misconfigured", ""));
    var verifier = randomText(48);
    var state = randomText(24);
    return codeChallenge(verifier).then(function (challenge) {
      // The page's query (?game=…) comes back with the session: the return URL cannot carry it.
      pending.put({ state: state, verifier: verifier, role: role, search: window.location.search });
      var query = new URLSearchParams({
        client_id: provider.clientId,
        response_type: "code",
        scope: OAUTH_SCOPE,
        redirect_uri: returnUrl(role),
        state: state,
        code_challenge: challenge,
        code_challenge_method: "S256",
      });
      var path = opts && opts.signUp ? "/signup" : "/oauth2/authorize";
      window.location.assign(provider.domain + path + "?" + query.toString());
    });
  }

  /** The token endpoint (/oauth2/token), form-encoded, as OAuth asks. */
  function tokenRequest(provider, fields) {
    var init = {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(fields).toString(),
      credentials: "omit",
      cache: "no-store",
    };
    return fetchText(provider.domain + "/oauth2/token", init).then(function (answer) {
      var data = parseJson(answer.text) || {};
      if (answer.response.ok && typeof data.id_token === "string" && data.id_token) return data;
      var code = data.error === "invalid_grant" ? "sign_in_expired" : "sign_in_unavailable";
      throw ApiError(answer.response.status, code, String(data.error_description || ""));
    });
  }

  /** A session from the token endpoint's answer, for the role the page signs in as. */
  function sessionFrom(tokens, role, refreshToken) {
    var claims = tokenClaims(tokens.id_token);
    var staff = groupsOf(claims).filter(function (group) {
      return STAFF_GROUPS.indexOf(group) >= 0;
    });
    if (role === "admin" && !staff.length) throw ApiError(403, "not_a_marketer_account", "");
    if (role !== "admin" && staff.length) throw ApiError(403, "not_a_player_account", "");
    var seconds = Number(tokens.expires_in) > 0 ? Number(tokens.expires_in) : 3600;
    return {
      token: tokens.id_token,
      refreshToken: refreshToken,
      expiresAt: Date.now() + seconds * 1000,
      userId: String(claims.email || claims["cognito:username"] || claims.sub || ""),
      groups: staff,
    };
  }

  /**
   * On a page that the login page sent back (?code=…&state=…): redeem the code with
   * the verifier kept for it, store the session and clean the URL. Resolves with the
   * session, or null when the URL carries no sign-in.
   */
  function finishSignIn(role) {
    var params = new URLSearchParams(window.location.search);
    var code = params.get("code");
    var state = params.get("state");
    var error = params.get("error");
    if (!code && !error) return Promise.resolve(null);
    var started = pending.take();
    var search = started && typeof started.search === "string" ? started.search : "";
    window.history.replaceState(null, "", window.location.pathname + search);
    if (error) return Promise.reject(ApiError(0, "sign_in_failed", String(error)));
    // A code this tab did not ask for (another tab's, or forged) is not redeemed.
    if (!started || started.role !== role || started.state !== state) {
      return Promise.reject(ApiError(0, "sign_in_failed", ""));
    }
    var provider = identityProvider();
    if (provider.invalid) return Promise.reject(ApiError(0, "sign_in_misconfigured", ""));
    return tokenRequest(provider, {
      grant_type: "authorization_code",
      client_id: provider.clientId,
      code: code,
      redirect_uri: returnUrl(role),
      code_verifier: started.verifier,
    }).then(function (tokens) {
      var signedIn = sessionFrom(tokens, role, String(tokens.refresh_token || ""));
      session.set(role, signedIn);
      return signedIn;
    });
  }

  /**
   * The role's session with an ID token good for a while yet: refreshed through the
   * token endpoint when it is near its end. Resolves null when signed out, or when the
   * refresh token is no longer good (revoked, or past its 30 days).
   */
  function freshSession(role) {
    var current = session.get(role);
    if (!current) return Promise.resolve(null);
    if (current.expiresAt - Date.now() > REFRESH_MARGIN_MS) return Promise.resolve(current);
    var provider = identityProvider();
    if (provider.invalid || !current.refreshToken) {
      session.clear(role);
      return Promise.resolve(null);
    }
    return tokenRequest(provider, {
      grant_type: "refresh_token",
      client_id: provider.clientId,
      refresh_token: current.refreshToken,
    }).then(
      function (tokens) {
        var renewed = sessionFrom(tokens, role, current.refreshToken);
        session.set(role, renewed);
        return renewed;
      },
      function (error) {
        if (error.code !== "sign_in_expired") throw error;
        session.clear(role);
        return null;
      }
    );
  }

  /** How often a signed-in page checks that its ID token has a while to live. */
  var SESSION_CHECK_MS = 60 * 1000;

  /**
   * Keep the role's session fresh while the page is open: once a minute, and whenever
   * the page is shown again (timers sleep in background tabs). `page.auth` is the
   * page's session: renewed in place, and `onEnded()` when a refresh is refused;
   * offline, the next check tries again.
   */
  function keepSessionFresh(role, page, onEnded) {
    function check() {
      if (!page.auth) return;
      freshSession(role).then(
        function (current) {
          if (current) page.auth = current;
          else onEnded();
        },
        function () {
          /* offline: the next check tries again */
        }
      );
    }
    setInterval(check, SESSION_CHECK_MS);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") check();
    });
  }

  /**
   * Sign out here and at the identity provider: revoke the refresh token, then end the
   * login page's own session (its /logout sends the browser back to this page).
   */
  function signOut(role) {
    var current = session.get(role);
    session.clear(role);
    var provider = identityProvider();
    if (provider.invalid) return Promise.resolve();
    var revoked = current && current.refreshToken
      ? fetchText(provider.domain + "/oauth2/revoke", {
          method: "POST",
          headers: { "Content-Type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ token: current.refreshToken, client_id: provider.clientId }).toString(),
          credentials: "omit",
        }).catch(function () {
          /* the token still ends with its 30 days */
        })
      : Promise.resolve();
    return revoked.then(function () {
      var query = new URLSearchParams({ client_id: provider.clientId, logout_uri: returnUrl(role) });
      window.location.assign(provider.domain + "/logout?" + query.toString());
    });
  }

  /** The claims of a JWT, read only to show who signed in (the API verifies tokens). */
  function tokenClaims(token) {
    try {
      var part = String(token).split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      var binary = atob(part + "===".slice((part.length + 3) % 4));
      var bytes = new Uint8Array(binary.length);
      for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
      var claims = JSON.parse(new TextDecoder().decode(bytes));
      return claims && typeof claims === "object" ? claims : {};
    } catch (_) {
      return {};
    }
  }

  /** The console's roles (Cognito groups); what each may do is the API's to decide. */
  var STAFF_GROUPS = ["admin", "brand-manager", "till"];

  function groupsOf(claims) {
    var groups = claims["cognito:groups"];
    return Array.isArray(groups) ? groups.map(String) : [];
  }

  /** User ids are identifiers on the server: 1-64 of A-Z a-z 0-9 _ . : - */
  var IDENTIFIER = /^[A-Za-z0-9_.:-]{1,64}$/;

  /** Tokens per role ("player" / "admin") in sessionStorage: gone when the tab closes. */
  var session = {
    key: function (role) {
      return "frolic." + role + ".session";
    },
    get: function (role) {
      try {
        var raw = window.sessionStorage.getItem(session.key(role));
        var value = raw ? JSON.parse(raw) : null;
        if (value && typeof value.token === "string" && typeof value.userId === "string") {
          return value;
        }
      } catch (_) {
        /* storage blocked or corrupt: treat as signed out */
      }
      return null;
    },
    set: function (role, value) {
      try {
        window.sessionStorage.setItem(session.key(role), JSON.stringify(value));
      } catch (_) {
        /* private mode without storage: the page still works until reload */
      }
    },
    clear: function (role) {
      try {
        window.sessionStorage.removeItem(session.key(role));
      } catch (_) {
        /* ignore */
      }
    },
  };

  // ---------------------------------------------------------------- DOM helpers

  /**
   * Build an element: h("p", {className: "x", text: "hello", attrs: {...},
   * dataset: {...}, on: {click: fn}}, child, "text child", ...). Text always goes
   * through text nodes; there is no way to pass markup.
   */
  function h(tag, props) {
    var node = document.createElement(tag);
    props = props || {};
    if (props.className) node.className = props.className;
    if (props.id) node.id = props.id;
    if (props.text !== undefined && props.text !== null) node.textContent = String(props.text);
    if (props.attrs) {
      Object.keys(props.attrs).forEach(function (name) {
        var value = props.attrs[name];
        if (value === false || value === null || value === undefined) return;
        if (/^on/i.test(name)) return; // handlers only through `on`
        node.setAttribute(name, value === true ? "" : String(value));
      });
    }
    if (props.dataset) {
      Object.keys(props.dataset).forEach(function (name) {
        node.dataset[name] = String(props.dataset[name]);
      });
    }
    if (props.on) {
      Object.keys(props.on).forEach(function (name) {
        node.addEventListener(name, props.on[name]);
      });
    }
    for (var i = 2; i < arguments.length; i++) append(node, arguments[i]);
    return node;
  }

  function append(parent, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) {
      child.forEach(function (c) {
        append(parent, c);
      });
    } else if (typeof child === "object" && child.nodeType) {
      parent.appendChild(child);
    } else {
      parent.appendChild(document.createTextNode(String(child)));
    }
  }

  /** Replace all of a node's children. */
  function replaceChildren(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    for (var i = 1; i < arguments.length; i++) append(node, arguments[i]);
    return node;
  }

  /** Show a message in a status element; kind: "info" | "ok" | "error" | "busy". */
  function showMessage(node, kind, title, detailLines) {
    if (!node) return;
    node.dataset.kind = kind || "info";
    var lines = (detailLines || []).filter(Boolean);
    replaceChildren(
      node,
      h("span", { className: "message-title", text: title }),
      lines.length
        ? h(
            "ul",
            { className: "message-details" },
            lines.map(function (line) {
              return h("li", { text: line });
            })
          )
        : null
    );
  }

  function showError(node, error) {
    var d = describeError(error);
    showMessage(node, "error", d.title, [d.detail].concat(d.fields));
    return d;
  }

  // ---------------------------------------------------------------- misc

  /** A v4 UUID; crypto.randomUUID needs a secure context, so fall back by hand. */
  function newPlayId() {
    var c = window.crypto;
    if (c && typeof c.randomUUID === "function") {
      try {
        return c.randomUUID();
      } catch (_) {
        /* fall through */
      }
    }
    var bytes = new Uint8Array(16);
    c.getRandomValues(bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map
      .call(bytes, function (b) {
        return (b + 0x100).toString(16).slice(1);
      })
      .join("");
    return (
      hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" +
      hex.slice(16, 20) + "-" + hex.slice(20)
    );
  }

  /** Copy text to the clipboard; resolves true on success. Never logs the text. */
  function copyText(text) {
    if (navigator.clipboard && typeof navigator.clipboard.writeText === "function") {
      return navigator.clipboard.writeText(text).then(
        function () {
          return true;
        },
        function () {
          return legacyCopy(text);
        }
      );
    }
    return Promise.resolve(legacyCopy(text));
  }

  function legacyCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try {
      ok = document.execCommand("copy");
    } catch (_) {
      ok = false;
    }
    document.body.removeChild(area);
    return ok;
  }

  function prefersReducedMotion() {
    return !!(
      window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches
    );
  }

  window.Frolic = {
    apiBase: apiBase,
    wsBase: wsBase,
    ApiError: ApiError,
    plainWords: plainWords,
    describeError: describeError,
    request: request,
    beginSignIn: beginSignIn,
    finishSignIn: finishSignIn,
    freshSession: freshSession,
    keepSessionFresh: keepSessionFresh,
    signOut: signOut,
    IDENTIFIER: IDENTIFIER,
    session: session,
    h: h,
    replaceChildren: replaceChildren,
    showMessage: showMessage,
    showError: showError,
    newPlayId: newPlayId,
    copyText: copyText,
    prefersReducedMotion: prefersReducedMotion,
  };
})();
