// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "fluxs",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "fluxs", targets: ["fluxs"]),
    ],
    dependencies: [
        // SHA-256, SHA-1 and HMAC; SSH key generation (ECDSA, Ed25519) for Git deploy keys; age and SOPS decryption.
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.0.0"),
    ],
    targets: [
        // System libraries (pkg-config). Each is imported by exactly one wrapper module.
        .systemLibrary(name: "CGit2", pkgConfig: "libgit2", providers: [.apt(["libgit2-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

        .target(name: "FluxsYAML", dependencies: ["CYAML"]),
        .target(name: "FluxsKube", dependencies: ["FluxsYAML", "CCurl", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "FluxsGit", dependencies: ["FluxsYAML", "CGit2", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "FluxsKustomize", dependencies: ["FluxsYAML", "FluxsKube"]),
        .target(name: "FluxsAPI", dependencies: ["FluxsYAML", "FluxsKube"]),
        .target(name: "FluxsCore", dependencies: ["FluxsYAML", "FluxsKube", "FluxsAPI", "FluxsGit", "FluxsKustomize", "CZlib", .product(name: "Crypto", package: "swift-crypto")]),
        .executableTarget(name: "fluxs", dependencies: ["FluxsYAML", "FluxsKube", "FluxsAPI", "FluxsGit", "FluxsKustomize", "FluxsCore"]),

        .target(name: "FluxsTestSupport", path: "Tests/FluxsTestSupport"),
        .testTarget(name: "FluxsYAMLTests", dependencies: ["FluxsYAML", "FluxsTestSupport"]),
        .testTarget(name: "FluxsKubeTests", dependencies: ["FluxsKube", "FluxsYAML", "FluxsTestSupport"]),
        .testTarget(name: "FluxsGitTests", dependencies: ["FluxsGit", "FluxsYAML", "FluxsTestSupport"]),
        .testTarget(name: "FluxsCoreTests", dependencies: ["FluxsCore", "FluxsAPI", "FluxsGit", "FluxsYAML", "FluxsKube", "FluxsTestSupport", .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(name: "FluxsKustomizeTests", dependencies: ["FluxsKustomize", "FluxsTestSupport"]),
        .testTarget(name: "FluxsAPITests", dependencies: ["FluxsAPI", "FluxsYAML", "FluxsKube", "FluxsTestSupport"]),
        .testTarget(name: "fluxsTests", dependencies: ["FluxsYAML", "FluxsTestSupport", "fluxs"]),
    ]
)
