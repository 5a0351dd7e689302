import { defineConfig } from "vite";
import vue from "@vitejs/plugin-vue";

// Served by the hub at /console; the built files are committed (dist/) and embedded in the
// hub's binary, and `.ci/run` checks that they match these sources.
export default defineConfig({
  base: "/console/",
  plugins: [vue()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    // The hub's Content-Security-Policy allows scripts and styles from the hub only: no
    // inline module preload polyfill.
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 1500,
  },
});
