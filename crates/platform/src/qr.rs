//! QR codes as SVG, for the tokens people show (payment codes) and scan (payment
//! requests). Rendered on the server so that every client shows the same, scannable code.

use qrcode::{EcLevel, QrCode, render::svg};

/// The smallest side of a rendered QR, in SVG user units (pixels at 100 %).
pub const QR_SIZE_MIN_PX: u32 = 256;

/// `text` as an SVG QR code with error correction level M (15 %: survives a scratched
/// screen without growing the code much).
pub fn svg(text: &str) -> Result<String, String> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .map_err(|error| error.to_string())?;
    Ok(code
        .render::<svg::Color>()
        .min_dimensions(QR_SIZE_MIN_PX, QR_SIZE_MIN_PX)
        .build())
}

#[cfg(test)]
mod tests {
    #[test]
    fn text_renders_as_an_svg_document() {
        let rendered = super::svg("hello").unwrap_or_default();
        assert!(rendered.contains("<svg"), "{rendered}");
    }
}
