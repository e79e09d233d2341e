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
    // signing in with Cognito (the deployed pages)
    sign_in_failed: "That email and password don't match an account. Check them and try again.",
    account_not_confirmed: "This account isn't confirmed yet. Confirm your email address first.",
    password_reset_required: "This account's password must be reset before it can sign in.",
    too_many_sign_ins: "Too many sign-in attempts. Please wait a minute and try again.",
    too_many_password_attempts:
      "Too many wrong passwords for this account, so it is locked for a while. " +
      "Wait a few minutes, then try again.",
    account_disabled: "This account has been disabled. Ask the organiser if you think that's wrong.",
    sign_in_step_unsupported:
      "This account needs a step this page can't do (a new password or a one-time code). " +
      "Ask the organiser to finish setting it up.",
    sign_in_unavailable: "Signing in isn't working right now. Please try again later.",
    sign_in_misconfigured: "This page's sign-in isn't set up correctly. Please tell the organiser.",
    not_a_marketer_account: "This account isn't a marketer account (the admin group).",
    not_a_player_account: "This is a marketer account. Sign in with a player account to play.",
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
   * The local stack's dev issuer (POST /dev/token, local only): a token for any user id,
   * an admin one with {admin: true}. Used when the page has no `frolic-auth` setting.
   */
  function acquireToken(userId, opts) {
    var payload = { userId: userId };
    if (opts && opts.admin) payload.admin = true;
    return request("/dev/token", { method: "POST", json: payload }).then(function (data) {
      if (!data || typeof data.token !== "string" || !data.token) {
        throw ApiError(0, "bad_response", "no token in the answer");
      }
      return data.token;
    });
  }

  /**
   * `<meta name="frolic-auth" content="region=eu-west-1; clientId=…">`: the Cognito app
   * client the deployed pages sign in with. null when the tag is empty (local stack);
   * { invalid: true } when it is set but unusable, so the page says so instead of
   * quietly falling back to the dev issuer.
   */
  function cognitoClient() {
    var raw = metaContent("frolic-auth");
    if (!raw) return null;
    var setting = {};
    raw.split(";").forEach(function (pair) {
      var at = pair.indexOf("=");
      if (at > 0) setting[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
    });
    var region = setting.region || "";
    var clientId = setting.clientId || "";
    // Both end up in a URL and a request: accept only what AWS issues.
    if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region) || !/^[A-Za-z0-9]{1,128}$/.test(clientId)) {
      return { invalid: true };
    }
    return { region: region, clientId: clientId };
  }

  /** True when the page signs in with an email and a password (Cognito, in AWS). */
  function signInNeedsPassword() {
    return cognitoClient() !== null;
  }

  /** Cognito's error types, as the stable codes PLAIN_WORDS explains. */
  var COGNITO_ERRORS = {
    NotAuthorizedException: "sign_in_failed",
    UserNotFoundException: "sign_in_failed",
    UserNotConfirmedException: "account_not_confirmed",
    PasswordResetRequiredException: "password_reset_required",
    TooManyRequestsException: "too_many_sign_ins",
    LimitExceededException: "too_many_sign_ins",
    TooManyFailedAttemptsException: "too_many_sign_ins",
  };

  /** NotAuthorizedException is also a locked or a disabled account: only its message
   *  tells them from a wrong password. */
  var NOT_AUTHORIZED_MESSAGES = [
    [/password attempts exceeded/i, "too_many_password_attempts"],
    [/user is disabled/i, "account_disabled"],
  ];

  function cognitoErrorCode(type, message) {
    if (type === "NotAuthorizedException") {
      for (var i = 0; i < NOT_AUTHORIZED_MESSAGES.length; i++) {
        if (NOT_AUTHORIZED_MESSAGES[i][0].test(message)) return NOT_AUTHORIZED_MESSAGES[i][1];
      }
    }
    if (Object.prototype.hasOwnProperty.call(COGNITO_ERRORS, type)) return COGNITO_ERRORS[type];
    return "sign_in_unavailable";
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

  function groupsOf(claims) {
    var groups = claims["cognito:groups"];
    return Array.isArray(groups) ? groups.map(String) : [];
  }

  /**
   * Cognito's InitiateAuth with USER_PASSWORD_AUTH, over fetch: no SDK, no build step.
   * Resolves with the ID token, which is what the REST API's authorizer takes.
   */
  function cognitoIdToken(client, username, password) {
    var init = {
      method: "POST",
      headers: {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth",
      },
      body: JSON.stringify({
        AuthFlow: "USER_PASSWORD_AUTH",
        ClientId: client.clientId,
        AuthParameters: { USERNAME: username, PASSWORD: password },
      }),
      credentials: "omit",
      cache: "no-store",
    };
    var endpoint = "https://cognito-idp." + client.region + ".amazonaws.com/";
    return fetchText(endpoint, init).then(function (answer) {
      var data = parseJson(answer.text) || {};
      var result = data.AuthenticationResult;
      if (answer.response.ok && result && typeof result.IdToken === "string" && result.IdToken) {
        return result.IdToken;
      }
      if (answer.response.ok && typeof data.ChallengeName === "string") {
        // A new password or a one-time code: steps these pages do not offer.
        throw ApiError(answer.response.status, "sign_in_step_unsupported", "");
      }
      var type = typeof data.__type === "string" ? data.__type.split("#").pop() : "";
      var message = typeof data.message === "string" ? data.message : "";
      throw ApiError(answer.response.status, cognitoErrorCode(type, message), message);
    });
  }

  /**
   * The one way the pages sign in. Resolves with { token, userId }, where userId is the
   * name the page shows. opts.admin: the marketer console (an admin account).
   *  - No `frolic-auth` setting (local stack): `name` becomes a user id and the dev
   *    issuer hands out a token; `password` is not used.
   *  - Cognito (AWS): `name` is the account's email; the page shows the token's email.
   *    An account in the wrong role is refused here, before the API would refuse it.
   */
  function signIn(name, password, opts) {
    var admin = !!(opts && opts.admin);
    var client = cognitoClient();
    if (!client) {
      var userId = toUserId(name);
      if (!userId) return Promise.reject(ApiError(0, "invalid_request", "no user name"));
      return acquireToken(userId, { admin: admin }).then(function (token) {
        return { token: token, userId: userId };
      });
    }
    if (client.invalid) return Promise.reject(ApiError(0, "sign_in_misconfigured", ""));
    var username = String(name || "").trim();
    return cognitoIdToken(client, username, String(password || "")).then(function (token) {
      var claims = tokenClaims(token);
      var isAdmin = groupsOf(claims).indexOf("admin") >= 0;
      if (admin && !isAdmin) throw ApiError(403, "not_a_marketer_account", "");
      if (!admin && isAdmin) throw ApiError(403, "not_a_player_account", "");
      var shown = typeof claims.email === "string" && claims.email ? claims.email : username;
      return { token: token, userId: shown };
    });
  }

  /** User ids are identifiers on the server: 1-64 of A-Z a-z 0-9 _ . : - */
  var IDENTIFIER = /^[A-Za-z0-9_.:-]{1,64}$/;

  /** A name as typed ("Ann Lee") to a user id the API accepts ("Ann-Lee"); "" if none. */
  function toUserId(name) {
    return String(name || "")
      .trim()
      .replace(/\s+/g, "-")
      .replace(/[^A-Za-z0-9_.:-]/g, "")
      .slice(0, 64);
  }

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
    acquireToken: acquireToken,
    signIn: signIn,
    signInNeedsPassword: signInNeedsPassword,
    IDENTIFIER: IDENTIFIER,
    toUserId: toUserId,
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
