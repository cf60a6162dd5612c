// Plugin versions for the whole build, pinned; applied in the modules that use them.
plugins {
    id("com.android.library") version "8.7.3" apply false
    id("org.jetbrains.kotlin.android") version "2.1.21" apply false
}
