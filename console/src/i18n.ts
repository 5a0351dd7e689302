// The console's two languages: Chinese (zh-CN) and English, chosen from the browser and
// switchable; the choice is kept for the next visit.
import { ref } from "vue";

export type Locale = "en" | "zh-CN";

const messages = {
  en: {
    appName: "Causeway",
    catalogue: "Catalogue",
    signOut: "Sign out",
    signingIn: "Signing you in…",
    signIn: "Sign in",
    signedOut: "You are signed out.",
    language: "中文",
    languageLabel: "Switch to Chinese",
    search: "Search datasets",
    searchPlaceholder: "Table, title or description",
    noDatasets: "No dataset matches.",
    department: "Department",
    dataset: "Dataset",
    source: "Source",
    version: "Version",
    owner: "Owner",
    decisionDays: "Requests decided within {days} working days",
    unavailable: "Unavailable: {reason}",
    accelerated: "Accelerated",
    fields: "Fields",
    field: "Field",
    type: "Type",
    classification: "Classification",
    nullable: "May be empty",
    description: "Description",
    back: "Back to the catalogue",
    loading: "Loading…",
    yes: "yes",
    no: "no",
    sessionExpired: "Your sign-in has ended. Sign in again to go on.",
    errorNetwork: "The hub cannot be reached. Check your connection and try again.",
    errorForbidden: "You may not do this: {message}",
    errorNotFound: "This was not found: {message}",
    errorBusy: "The hub is busy. Try again in a moment.",
    errorOther: "Something went wrong: {message}",
    callbackFailed: "Signing in did not finish: {message}. Sign in again.",
  },
  "zh-CN": {
    appName: "Causeway 数据共享",
    catalogue: "数据目录",
    signOut: "退出登录",
    signingIn: "正在登录…",
    signIn: "登录",
    signedOut: "您已退出登录。",
    language: "English",
    languageLabel: "切换到英文",
    search: "搜索数据集",
    searchPlaceholder: "表名、标题或说明",
    noDatasets: "没有匹配的数据集。",
    department: "部门",
    dataset: "数据集",
    source: "数据源",
    version: "版本",
    owner: "负责人",
    decisionDays: "申请在 {days} 个工作日内审批",
    unavailable: "不可用：{reason}",
    accelerated: "已加速",
    fields: "字段",
    field: "字段",
    type: "类型",
    classification: "密级",
    nullable: "可为空",
    description: "说明",
    back: "返回数据目录",
    loading: "加载中…",
    yes: "是",
    no: "否",
    sessionExpired: "您的登录已结束，请重新登录。",
    errorNetwork: "无法连接到服务器，请检查网络后重试。",
    errorForbidden: "您无权执行此操作：{message}",
    errorNotFound: "未找到：{message}",
    errorBusy: "服务器繁忙，请稍后重试。",
    errorOther: "出现错误：{message}",
    callbackFailed: "登录未完成：{message}。请重新登录。",
  },
} as const;

export type MessageKey = keyof (typeof messages)["en"];

function initial(): Locale {
  const saved = localStorage.getItem("causeway.locale");
  if (saved === "en" || saved === "zh-CN") return saved;
  return navigator.language.toLowerCase().startsWith("zh") ? "zh-CN" : "en";
}

export const locale = ref<Locale>(initial());

export function setLocale(next: Locale): void {
  locale.value = next;
  localStorage.setItem("causeway.locale", next);
  document.documentElement.lang = next;
}

/** The message `key` in the current language, with `{name}` replaced from `values`. */
export function t(key: MessageKey, values: Record<string, string | number> = {}): string {
  const text: string = messages[locale.value][key];
  return text.replace(/\{(\w+)\}/g, (_, name: string) => String(values[name] ?? `{${name}}`));
}
