// CloudFront Function (cloudfront-js-2.0), viewer request: the pages' paths to their
// files in the site bucket. The local gateway serves the same map
// (frolic_tools/local/routes.py PAGES); tests/infra/test_web.py checks that they agree.
// `/admin` must stay `/admin` in the address bar: the page's relative URLs
// (style.css, common.js) resolve against it. So `/admin/` is redirected there, not
// served: under `/admin/` they would resolve to `/admin/style.css`, which is no file.
var PAGES = {
  "/": "/index.html",
  "/admin": "/admin.html",
};

function isPage(uri) {
  return Object.prototype.hasOwnProperty.call(PAGES, uri);
}

/** The query string as the viewer sent it (`?a=1&b=2`), or "" when there is none. */
function search(querystring) {
  var parts = [];
  Object.keys(querystring).forEach(function (name) {
    var field = querystring[name];
    (field.multiValue || [field]).forEach(function (one) {
      parts.push(name + "=" + one.value);
    });
  });
  return parts.length ? "?" + parts.join("&") : "";
}

function handler(event) {
  var request = event.request;
  var uri = request.uri;
  if (uri.length > 1 && uri.charAt(uri.length - 1) === "/" && isPage(uri.slice(0, -1))) {
    return {
      statusCode: 301,
      statusDescription: "Moved Permanently",
      headers: { location: { value: uri.slice(0, -1) + search(request.querystring) } },
    };
  }
  if (isPage(uri)) request.uri = PAGES[uri];
  return request;
}
