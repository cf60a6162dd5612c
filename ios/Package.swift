// swift-tools-version:5.9
// The Cascade Swift package: the uniffi-generated Swift API (module `CascadeFFI`) over the Rust
// library, shipped as an XCFramework (binary target `CascadeFFIFFI`: the static library for
// iOS devices and simulators with its C header and module map).
//
// Neither the XCFramework nor Sources/CascadeFFI/CascadeFFI.swift is committed: build both first
// with scripts/build-xcframework.sh (macOS with Xcode). Then:
//   xcodebuild test -scheme CascadeFFI -destination 'platform=iOS Simulator,name=iPhone 16'
import PackageDescription

let package = Package(
    name: "Cascade",
    platforms: [
        .iOS(.v15),
    ],
    products: [
        .library(name: "CascadeFFI", targets: ["CascadeFFI"]),
    ],
    targets: [
        // The binary target's name is the module name in the XCFramework's module map.
        .binaryTarget(
            name: "CascadeFFIFFI",
            path: "CascadeFFIFFI.xcframework"
        ),
        .target(
            name: "CascadeFFI",
            dependencies: ["CascadeFFIFFI"],
            path: "Sources/CascadeFFI"
        ),
        .testTarget(
            name: "CascadeTests",
            dependencies: ["CascadeFFI"],
            path: "Tests/CascadeTests"
        ),
    ]
)
