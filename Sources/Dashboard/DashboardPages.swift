public import HTTP1

/// The trading dashboard's files, compiled into the binary (`Assets/`, embedded by SwiftPM): `GET /` is the page,
/// `/dashboard.js` (with `/format.js` and `/chart.js`) and `/dashboard.css` what it loads. No build step: the files
/// are served as written.
///
/// Every answer carries a Content-Security-Policy that allows only this origin's script, style and connections
/// (fetch and the WebSocket API) — no inline script, no `eval`, no framing — plus `nosniff` and `no-referrer`.
/// Answers are revalidated by ETag (`no-cache`), so a new binary's files are never mixed with an old one's.
public struct DashboardPages: Sendable {
    struct Asset: Sendable {
        let contentType: String
        let body: [UInt8]
        let etag: String
    }

    let assets: [String: Asset]

    public init() {
        func asset(_ bytes: [UInt8], _ contentType: String) -> Asset {
            Asset(contentType: contentType, body: bytes, etag: "\"\(Self.fingerprint(bytes))\"")
        }
        assets = [
            "/": asset(PackageResources.index_html, "text/html; charset=utf-8"),
            "/dashboard.js": asset(PackageResources.dashboard_js, "text/javascript; charset=utf-8"),
            "/format.js": asset(PackageResources.format_js, "text/javascript; charset=utf-8"),
            "/chart.js": asset(PackageResources.chart_js, "text/javascript; charset=utf-8"),
            "/dashboard.css": asset(PackageResources.dashboard_css, "text/css; charset=utf-8"),
            "/favicon.svg": asset(PackageResources.favicon_svg, "image/svg+xml"),
        ]
    }

    /// The policy every answer carries. `connect-src 'self'` covers the page's own WebSocket (CSP Level 3, as
    /// Chromium and Firefox implement it).
    public static let contentSecurityPolicy = [
        "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
        "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
    ].joined(separator: "; ")

    /// The answer for `request` when it is a GET of one of the dashboard's files, else nil.
    public func response(_ request: HTTP1Request) -> HTTP1Response? {
        guard request.method == "GET", let asset = assets[String(request.path)] else { return nil }
        var headers: [(name: String, value: String)] = [
            ("content-security-policy", Self.contentSecurityPolicy),
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "no-referrer"),
            ("cache-control", "no-cache"),
            ("etag", asset.etag),
        ]
        if request.header("if-none-match").map({ Self.matches($0, asset.etag) }) == true {
            return HTTP1Response(status: 304, headers: headers)
        }
        headers.insert(("content-type", asset.contentType), at: 0)
        return HTTP1Response(status: 200, headers: headers, body: asset.body)
    }

    /// Whether an If-None-Match list names `etag` (weak comparison, RFC 9110 §13.1.2).
    static func matches(_ list: String, _ etag: String) -> Bool {
        list.split(separator: ",").contains { candidate in
            let tag = candidate.trimmingWhitespace()
            return tag == "*" || tag == etag || tag == "W/" + etag
        }
    }

    /// FNV-1a over the bytes, as 16 hex digits: enough to tell two builds' files apart.
    static func fingerprint(_ bytes: [UInt8]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        let digits = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
