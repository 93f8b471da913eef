// A QR code drawn as one SVG path (no inline styles: the CSP allows none).
import encodeQR from 'qr';

export function QrCode({ text, label, size = 280 }) {
  const grid = encodeQR(text, 'raw', { ecc: 'medium', border: 2 });
  const n = grid.length;
  let path = '';
  grid.forEach((row, y) =>
    row.forEach((dark, x) => {
      if (dark) path += `M${x} ${y}h1v1h-1z`;
    }),
  );
  return (
    <svg class="qr" role="img" aria-label={label} viewBox={`0 0 ${n} ${n}`} width={size} height={size} shape-rendering="crispEdges">
      <rect width={n} height={n} fill="#fff" />
      <path d={path} fill="#000" />
    </svg>
  );
}
