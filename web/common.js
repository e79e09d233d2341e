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
    unauthorized: "Your session has ended. Please sign in again.",
    forbidden: "This account isn't allowed to do that.",
    not_found: "That was not found.",
    payload_too_large: "That is too large to send.",
    unsupported_media_type: "The server can't read that kind of file.",
    no_budget: "Set this brand's budget for the game before adding coupons.",
    conflict: "That conflicts with what is already stored.",
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

    var controller = typeof AbortController === "function" ? new AbortController() : null;
    var timedOut = false;
    var timer = controller
      ? setTimeout(function () {
          timedOut = true;
          controller.abort();
        }, options.timeoutMs || DEFAULT_TIMEOUT_MS)
      : null;

    return fetch(apiBase() + path, {
      method: options.method || "GET",
      headers: headers,
      body: body,
      credentials: "omit",
      cache: "no-store",
      signal: controller ? controller.signal : undefined,
    })
      .then(
        function (response) {
          return response.text().then(function (text) {
            var data = null;
            if (text) {
              try {
                data = JSON.parse(text);
              } catch (_) {
                data = undefined;
              }
            }
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
        },
        function () {
          if (timedOut) throw ApiError(0, "timeout", "");
          throw ApiError(0, "network", "");
        }
      )
      .finally(function () {
        if (timer) clearTimeout(timer);
      });
  }

  // ---------------------------------------------------------------- auth

  /**
   * The one place a token is obtained. Locally: the gateway's dev issuer
   * (POST /dev/token, local only). In AWS swap this for a Cognito sign-in that
   * resolves with the ID token; nothing else in the pages needs to change.
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
