import { defineConfig } from "@playwright/test";

// Run by the hub's end-to-end test `console` (tests/tests/e2e/console.rs), which starts a
// hub, publishes datasets, adds a person and passes them in CAUSEWAY_* variables. The
// browser is Debian's Chromium (`.ci/run` installs it); Playwright downloads none.
export default defineConfig({
  testDir: "tests",
  timeout: 60_000,
  workers: 1,
  reporter: [["list"]],
  use: {
    baseURL: process.env.CAUSEWAY_URL,
    viewport: { width: 1280, height: 800 },
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
      args: ["--no-sandbox"],
    },
  },
});
