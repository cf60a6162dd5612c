// The Cascade Android library build. Gradle 8.9 or newer (with the Android SDK); there is no
// wrapper jar in the repository: run `gradle wrapper --gradle-version 8.11.1` once, or use an
// installed Gradle. Build the native libraries and bindings first: scripts/build-android.sh.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "cascade-android"
include(":cascade")
