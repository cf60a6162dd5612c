// The `cascade` Android library (AAR): the uniffi-generated Kotlin bindings (`org.cascade.ffi`),
// the thin idiomatic layer (`org.cascade`) and the native `libcascade_ffi.so` for each ABI.
//
// scripts/build-android.sh cross-compiles the native libraries into src/main/jniLibs/ and
// generates the bindings into build/generated/uniffi/kotlin/ before Gradle runs; neither is
// committed. The same Kotlin sources (layer and tests) are compiled and tested on the JVM by
// the Maven build in ../jvm (scripts/test-kotlin.sh).
plugins {
    id("com.android.library")
    id("org.jetbrains.kotlin.android")
}

val jnaVersion = "5.17.0"
val coroutinesVersion = "1.10.2"
val junitVersion = "5.12.2"
val bouncyCastleVersion = "1.80"

android {
    namespace = "org.cascade"
    compileSdk = 35

    defaultConfig {
        minSdk = 24
        // JNA and the generated bindings are reached by reflection: keep them in minified apps.
        consumerProguardFiles("consumer-rules.pro")
    }

    sourceSets {
        getByName("main") {
            java.srcDir(layout.buildDirectory.dir("generated/uniffi/kotlin"))
            jniLibs.srcDir("src/main/jniLibs")
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    // Host-side unit tests (`gradle :cascade:testDebugUnitTest`) are the same tests the Maven
    // build in ../jvm runs; they need the host library (`cargo build -p cascade-ffi`).
    testOptions {
        unitTests.all {
            it.useJUnitPlatform()
            it.systemProperty(
                "jna.library.path",
                rootProject.file("../target/debug").absolutePath,
            )
        }
    }
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    // The aar carries libjnidispatch.so for every Android ABI.
    implementation("net.java.dev.jna:jna:$jnaVersion@aar")
    implementation("org.jetbrains.kotlinx:kotlinx-coroutines-core:$coroutinesVersion")

    // Host-side unit tests run on the desktop JVM: plain JNA (with the desktop dispatch library).
    testImplementation("net.java.dev.jna:jna:$jnaVersion")
    testImplementation(platform("org.junit:junit-bom:$junitVersion"))
    testImplementation("org.junit.jupiter:junit-jupiter")
    testRuntimeOnly("org.junit.platform:junit-platform-launcher")
    testImplementation("org.jetbrains.kotlin:kotlin-test-junit5")
    testImplementation("org.bouncycastle:bcprov-jdk18on:$bouncyCastleVersion")
}
