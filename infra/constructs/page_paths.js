// CloudFront Function (cloudfront-js-2.0), viewer request: the pages' paths to their
// files in the site bucket. The local gateway serves the same map
// (frolic/local/routes.py PAGES); tests/infra/test_web.py checks that they agree.
// `/admin` must stay `/admin` in the address bar: the page's relative URLs
// (style.css, common.js) resolve against it.
var PAGES = {
  "/": "/index.html",
  "/admin": "/admin.html",
};

function handler(event) {
  var request = event.request;
  if (Object.prototype.hasOwnProperty.call(PAGES, request.uri)) {
    request.uri = PAGES[request.uri];
  }
  return request;
}
