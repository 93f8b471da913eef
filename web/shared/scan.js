// Reads QR codes from the camera (qr/dom.js): opens the rear camera into a <video>,
// decodes frames until one holds a code, then releases the camera.
import { QRCanvas, frameLoop, rearCamera } from 'qr/dom.js';

/**
 * Starts scanning into `video`; calls `onCode(text)` once with the first code read.
 * Resolves with a stop function; rejects when there is no camera or no permission.
 */
export async function scanCamera(video, onCode) {
  const camera = await rearCamera(video);
  const canvas = new QRCanvas();
  let busy = false;
  let done = false;
  const stop = () => {
    done = true;
    cancel();
    camera.stop();
  };
  const cancel = frameLoop(async () => {
    if (busy || done) return;
    busy = true;
    try {
      // Native pixels (fullSize): the on-screen video is cropped to a square, and a
      // squeezed picture would not decode.
      const text = await camera.readFrame(canvas, true);
      if (typeof text === 'string' && text && !done) {
        stop();
        onCode(text);
      }
    } catch {
      // A frame without a readable code: try the next one.
    } finally {
      busy = false;
    }
  });
  return stop;
}

// ---- A lighter reader (added for the store client) ----------------------------------
import decodeQR from 'qr/decode.js';

/** Frames are decoded at most this many pixels on their longer side. */
const SCAN_SIDE_MAX_PX = 720;

/**
 * scanCamera's promise with qr's decoder called on each frame directly, without
 * QRCanvas and its overlay: about 5 KB less of gzipped bundle, which the store client
 * (kiosk and dashboard in one bundle, with a chart) needs to stay within its budget.
 * Calls `onCode(text)` for every code read until the returned stop function is called
 * (the caller decides which codes it wants).
 */
export async function scanCameraFrames(video, onCode) {
  const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment', width: { ideal: 1280 } }, audio: false });
  video.srcObject = stream;
  await video.play().catch(() => {});
  const canvas = document.createElement('canvas');
  const context = canvas.getContext('2d', { willReadFrequently: true });
  let done = false;
  const cancel = frameLoop(() => {
    if (done || !video.videoWidth) return;
    const scale = Math.min(1, SCAN_SIDE_MAX_PX / Math.max(video.videoWidth, video.videoHeight));
    const width = Math.round(video.videoWidth * scale);
    const height = Math.round(video.videoHeight * scale);
    if (canvas.width !== width) canvas.width = width;
    if (canvas.height !== height) canvas.height = height;
    context.drawImage(video, 0, 0, width, height);
    let text;
    try {
      text = decodeQR(context.getImageData(0, 0, canvas.width, canvas.height));
    } catch {
      return; // no readable code in this frame
    }
    if (typeof text === 'string' && text && !done) onCode(text);
  }, video);
  return () => {
    done = true;
    cancel();
    for (const track of stream.getTracks()) track.stop();
  };
}
