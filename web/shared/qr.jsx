// Draws a QR code as one SVG path, from the token itself: the app never shows a picture
// it did not make, and needs no image from the server.
import encodeQR from 'qr';

/** The dark modules of `text` as an SVG path (one unit per module) and the side length. */
export function qrPath(text, border = 4) {
  const grid = encodeQR(text, 'raw', { ecc: 'medium', border });
  let d = '';
  grid.forEach((row, y) => {
    let x = 0;
    while (x < row.length) {
      if (!row[x]) {
        x += 1;
        continue;
      }
      const start = x;
      while (x < row.length && row[x]) x += 1;
      d += `M${start} ${y}h${x - start}v1h${start - x}z`;
    }
  });
  return { d, size: grid.length };
}

/** A QR code; `label` is what a screen reader says instead of the pattern. */
export function QrCode({ text, label, class: className }) {
  const { d, size } = qrPath(text);
  return (
    <svg
      class={className}
      viewBox={`0 0 ${size} ${size}`}
      role="img"
      aria-label={label}
      shape-rendering="crispEdges"
      xmlns="http://www.w3.org/2000/svg"
    >
      <rect width={size} height={size} fill="#fff" />
      <path d={d} fill="#000" />
    </svg>
  );
}
