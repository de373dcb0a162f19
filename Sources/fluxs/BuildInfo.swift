/// Version facts of this build.
enum BuildInfo {
    /// fluxs's own version.
    static let version = "0.1.0"
    /// The flux CLI and controller release whose behaviour and manifests fluxs follows.
    static let fluxVersion = "v2.9.4"
    #if arch(x86_64)
    static let arch = "amd64"
    #elseif arch(arm64)
    static let arch = "arm64"
    #else
    static let arch = "unknown"
    #endif
}
