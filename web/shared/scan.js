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
