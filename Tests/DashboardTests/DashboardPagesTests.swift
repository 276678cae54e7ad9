@testable import Dashboard
import HTTP1
import Testing

struct DashboardPagesTests {
    let pages = DashboardPages()

    func get(_ path: String, _ headers: [(name: String, value: String)] = [], method: String = "GET") -> HTTP1Response? {
        pages.response(HTTP1Request(method: method, target: path, headers: [("host", "gateway")] + headers))
    }

    func header(_ response: HTTP1Response?, _ name: String) -> String? {
        response?.head.headers.first { $0.name == name }?.value
    }

    @Test func everyFileComesWithItsTypeThePolicyAndAnETag() throws {
        for (path, type) in [("/", "text/html"), ("/dashboard.js", "text/javascript"), ("/format.js", "text/javascript"), ("/chart.js", "text/javascript"), ("/dashboard.css", "text/css"), ("/favicon.svg", "image/svg+xml")] {
            let response = try #require(get(path), "\(path) is served")
            #expect(response.status == 200)
            #expect(header(response, "content-type")?.hasPrefix(type) == true, "\(path)")
            #expect(header(response, "content-security-policy") == DashboardPages.contentSecurityPolicy)
            #expect(header(response, "x-content-type-options") == "nosniff")
            #expect(header(response, "etag")?.count == 18)
            #expect(!response.body.isEmpty)
        }
        // The query does not change what is served; other paths and methods are not the dashboard's.
        #expect(get("/?symbol=ACME")?.status == 200)
        #expect(get("/index.html") == nil)
        #expect(get("/v1/orders") == nil)
        #expect(get("/", method: "POST") == nil)
    }

    @Test func thePolicyAllowsOnlyThisOriginsScriptStyleAndConnections() {
        let policy = DashboardPages.contentSecurityPolicy
        #expect(policy.contains("default-src 'none'"))
        #expect(policy.contains("script-src 'self'"))
        #expect(policy.contains("connect-src 'self'"))
        #expect(policy.contains("frame-ancestors 'none'"))
        #expect(!policy.contains("unsafe"), "no inline script or style, no eval")
    }

    @Test func thePageLoadsNothingInline() throws {
        let page = String(decoding: try #require(get("/")).body, as: UTF8.self)
        #expect(page.contains("<script src=\"/dashboard.js\" defer></script>"))
        #expect(!page.contains("<script>"), "no inline script (the policy would block it)")
        #expect(!page.contains("style=\""), "no inline style attributes")
        let tags = page.split(separator: "<").map { $0.prefix { $0 != ">" } }
        #expect(!tags.contains { $0.split(separator: " ").dropFirst().contains { $0.hasPrefix("on") && $0.contains("=") } }, "no inline event handlers")
    }

    @Test func aMatchingETagIsNotModified() throws {
        let etag = try #require(header(get("/dashboard.js"), "etag"))
        #expect(get("/dashboard.js", [("if-none-match", etag)])?.status == 304)
        #expect(get("/dashboard.js", [("if-none-match", "\"other\", W/\(etag)")])?.status == 304)
        #expect(get("/dashboard.js", [("if-none-match", "\"other\"")])?.status == 200)
        #expect(get("/dashboard.js", [("if-none-match", "*")])?.status == 304)
    }

    @Test func fingerprintsTellFilesApart() {
        #expect(DashboardPages.fingerprint([]) == "cbf29ce484222325")
        #expect(DashboardPages.fingerprint([1]) != DashboardPages.fingerprint([2]))
        #expect(DashboardPages.fingerprint(Array("a".utf8)) == "af63dc4c8601ec8c")
    }
}
