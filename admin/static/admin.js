// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  // Forms with data-confirm ask before they post (retry, revoke).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form && form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
  // A selected token is easier to copy on a tablet.
  var token = document.getElementById("new-token");
  if (token && window.getSelection) {
    var range = document.createRange();
    range.selectNodeContents(token);
    window.getSelection().removeAllRanges();
    window.getSelection().addRange(range);
  }
})();
