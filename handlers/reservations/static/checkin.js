// Counter check-in: the camera scan (jsQR, served beside this file) fills the same field a USB
// keyboard-wedge scanner types into, and sends the form. Without JavaScript or a camera, the
// field alone works (the scanner "types" the token and Enter).
(function () {
  "use strict";
  var form = document.getElementById("checkin-form");
  var field = document.getElementById("checkin-token");
  var startButton = document.getElementById("camera-start");
  var stopButton = document.getElementById("camera-stop");
  var video = document.getElementById("camera-video");
  var status = document.getElementById("camera-status");
  var controls = document.getElementById("camera-controls");
  if (!form || !field) {
    return;
  }
  // Keep the wedge field ready for the next scan unless someone is typing elsewhere.
  field.focus();
  if (!controls || !startButton || !video || typeof window.jsQR !== "function" || !navigator.mediaDevices) {
    return; // no camera here: the field alone (scanner or typing) does the job
  }
  // .button sets display, which would beat the hidden attribute: toggle display itself.
  function show(element, visible) {
    element.hidden = !visible;
    element.style.display = visible ? "" : "none";
  }
  controls.hidden = false;
  show(stopButton, false);
  var stream = null;
  var canvas = document.createElement("canvas");
  var context = canvas.getContext("2d", { willReadFrequently: true });
  var TOKEN = /^[A-Z2-7]{32}$/;

  function say(text) {
    if (status) {
      status.textContent = text;
    }
  }

  function stop() {
    if (stream) {
      stream.getTracks().forEach(function (track) { track.stop(); });
      stream = null;
    }
    video.hidden = true;
    show(stopButton, false);
    show(startButton, true);
  }

  function scan() {
    if (!stream) {
      return;
    }
    if (video.readyState === video.HAVE_ENOUGH_DATA) {
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      context.drawImage(video, 0, 0, canvas.width, canvas.height);
      var image = context.getImageData(0, 0, canvas.width, canvas.height);
      var code = window.jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" });
      var text = code && code.data ? code.data.trim().toUpperCase() : "";
      if (TOKEN.test(text)) {
        say("読み取りました。");
        field.value = text;
        stop();
        form.submit();
        return;
      }
    }
    window.requestAnimationFrame(scan);
  }

  startButton.addEventListener("click", function () {
    say("カメラを起動しています…");
    navigator.mediaDevices
      .getUserMedia({ video: { facingMode: "environment" }, audio: false })
      .then(function (media) {
        stream = media;
        video.srcObject = media;
        video.hidden = false;
        show(stopButton, true);
        show(startButton, false);
        return video.play();
      })
      .then(function () {
        say("QRコードをカメラに向けてください。");
        window.requestAnimationFrame(scan);
      })
      .catch(function () {
        say("カメラを使えません。読み取り機か、番号の入力をお使いください。");
        stop();
      });
  });
  stopButton.addEventListener("click", function () {
    stop();
    say("");
    field.focus();
  });
})();
