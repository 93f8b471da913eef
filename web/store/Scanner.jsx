// The camera view that reads a QR code (web/shared/scan.js) until it holds one the
// screen accepts: the kiosk ignores a pairing code, the dashboard wants nothing else.
import { useSignal } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import { scanCameraFrames } from '../shared/scan.js';

export function Scanner({ onCode, label, hint, blockedText, accept = () => true }) {
  const video = useRef(null);
  const blocked = useSignal(false);
  useEffect(() => {
    let stop = () => {};
    let done = false;
    scanCameraFrames(video.current, (text) => {
      if (done || !accept(text)) return;
      done = true;
      stop();
      onCode(text);
    }).then(
      (stopCamera) => {
        stop = stopCamera;
        if (done) stopCamera();
      },
      () => (blocked.value = true),
    );
    return () => {
      done = true;
      stop();
    };
  }, []);
  return (
    <figure class="scanner">
      <video ref={video} aria-label={label} muted playsInline />
      <figcaption>{blocked.value ? blockedText : hint}</figcaption>
    </figure>
  );
}
