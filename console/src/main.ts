import { createApp } from "vue";
import { createRouter, createWebHistory } from "vue-router";
import {
  ElAlert,
  ElButton,
  ElCard,
  ElContainer,
  ElDescriptions,
  ElDescriptionsItem,
  ElHeader,
  ElInput,
  ElMain,
  ElTable,
  ElTableColumn,
  ElTag,
} from "element-plus";
// Only the components the console uses, and their styles: a smaller download.
import "element-plus/theme-chalk/base.css";
import "element-plus/theme-chalk/el-alert.css";
import "element-plus/theme-chalk/el-button.css";
import "element-plus/theme-chalk/el-card.css";
import "element-plus/theme-chalk/el-container.css";
import "element-plus/theme-chalk/el-descriptions.css";
import "element-plus/theme-chalk/el-descriptions-item.css";
import "element-plus/theme-chalk/el-header.css";
import "element-plus/theme-chalk/el-input.css";
import "element-plus/theme-chalk/el-main.css";
import "element-plus/theme-chalk/el-table.css";
import "element-plus/theme-chalk/el-table-column.css";
import "element-plus/theme-chalk/el-tag.css";

import App from "./App.vue";
import Callback from "./pages/Callback.vue";
import Catalogue from "./pages/Catalogue.vue";
import Dataset from "./pages/Dataset.vue";
import { locale } from "./i18n";
import { signIn, signedIn } from "./session";

const router = createRouter({
  history: createWebHistory("/console/"),
  routes: [
    { path: "/", component: Catalogue },
    { path: "/callback", component: Callback, meta: { public: true } },
    { path: "/datasets/:department/:name", component: Dataset, props: true },
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
for (const component of [
  ElAlert,
  ElButton,
  ElCard,
  ElContainer,
  ElDescriptions,
  ElDescriptionsItem,
  ElHeader,
  ElInput,
  ElMain,
  ElTable,
  ElTableColumn,
  ElTag,
]) {
  app.use(component);
}
app.mount("#app");
