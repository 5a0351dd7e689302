import { createApp } from "vue";
import { createRouter, createWebHistory } from "vue-router";
import * as elements from "./elements";

import App from "./App.vue";
import Account from "./pages/Account.vue";
import Accounts from "./pages/Accounts.vue";
import Callback from "./pages/Callback.vue";
import Catalogue from "./pages/Catalogue.vue";
import Dataset from "./pages/Dataset.vue";
import Grants from "./pages/Grants.vue";
import Grid from "./pages/Grid.vue";
import Requests from "./pages/Requests.vue";
import Supervision from "./pages/Supervision.vue";
import Workbench from "./pages/Workbench.vue";
import { locale } from "./i18n";
import { signIn, signedIn } from "./session";

const router = createRouter({
  history: createWebHistory("/console/"),
  routes: [
    { path: "/", component: Catalogue },
    { path: "/callback", component: Callback, meta: { public: true } },
    { path: "/datasets/:department/:name", component: Dataset, props: true },
    { path: "/requests", component: Requests },
    { path: "/grants", component: Grants },
    { path: "/workbench", component: Workbench },
    { path: "/supervision", component: Supervision },
    { path: "/grid", component: Grid },
    { path: "/accounts", component: Accounts },
    { path: "/account", component: Account },
    // An address the console does not know leads to the catalogue, not to a blank page.
    { path: "/:unknown(.*)*", redirect: "/" },
  ],
});

// Every page but the callback needs a signed-in person; the token lives in memory, so a
// reloaded page signs in again (the provider's sign-in page).
router.beforeEach(async (to) => {
  if (to.meta.public || signedIn()) return true;
  await signIn(to.fullPath);
  return false;
});

document.documentElement.lang = locale.value;
const app = createApp(App).use(router);
for (const component of Object.values(elements)) {
  app.use(component);
}
app.mount("#app");
