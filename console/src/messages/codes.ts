// The hub's codes in words: the audit log's actions, alert details, classifications and
// contract changes. The hub writes codes (`query.finished`, `threshold`, `field_added`), a
// person reads words. The codes are the hub's (hub/src/audit/event.rs, hub/src/supervision/,
// policies/src/masks.rs, schemas/src/diff.rs); one missing here is shown as it is.
type Words = { en: string; "zh-CN": string };

export const ACTIONS: Record<string, Words> = {
  "query.started": { en: "Query started", "zh-CN": "查询开始" },
  "query.finished": { en: "Query answered", "zh-CN": "查询完成" },
  "query.refused": { en: "Query refused", "zh-CN": "查询被拒绝" },
  "verification.answered": { en: "Record verified", "zh-CN": "核验已答复" },
  "verification.refused": { en: "Verification refused", "zh-CN": "核验被拒绝" },
  "token.issued": { en: "Token issued", "zh-CN": "签发令牌" },
  "token.refused": { en: "Token refused", "zh-CN": "拒绝签发令牌" },
  "sign_in.succeeded": { en: "Signed in", "zh-CN": "登录成功" },
  "sign_in.refused": { en: "Sign-in refused", "zh-CN": "登录被拒绝" },
  "sign_in.ended": { en: "Signed out", "zh-CN": "退出登录" },
  "bearer.refused": { en: "Token not accepted", "zh-CN": "令牌无效" },
  "dataset.published": { en: "Dataset published", "zh-CN": "发布数据集" },
  "dataset.changed": { en: "Dataset changed", "zh-CN": "修改数据集" },
  "dataset.removed": { en: "Dataset removed", "zh-CN": "删除数据集" },
  "dataset.refreshed": { en: "Dataset refreshed", "zh-CN": "刷新数据集" },
  "client.created": { en: "Account created", "zh-CN": "创建账号" },
  "client.disabled": { en: "Account disabled", "zh-CN": "停用账号" },
  "client.secret_rotated": { en: "Secret or password reset", "zh-CN": "重置密钥或密码" },
  "client.roles_changed": { en: "Roles changed", "zh-CN": "修改角色" },
  "client.approved": { en: "Account approved", "zh-CN": "批准账号" },
  "keys.rotated": { en: "Signing keys rotated", "zh-CN": "轮换签名密钥" },
  "backup.made": { en: "Backup made", "zh-CN": "完成备份" },
  "backup.restored": { en: "Backup restored", "zh-CN": "恢复备份" },
  "duty.refused": { en: "Refused by separation of duties", "zh-CN": "职责分离拒绝" },
  "admin.read": { en: "Administrative reading", "zh-CN": "管理信息查阅" },
  "grant.created": { en: "Grant made", "zh-CN": "授予权限" },
  "grant.revoked": { en: "Grant revoked", "zh-CN": "撤销授权" },
  "grant.expired": { en: "Grant expired", "zh-CN": "授权到期" },
  "grant.confirmed": { en: "Grant confirmed again", "zh-CN": "授权复核确认" },
  "request.created": { en: "Access requested", "zh-CN": "提交访问申请" },
  "request.decided": { en: "Request decided", "zh-CN": "审批访问申请" },
  "request.dry_run": { en: "Dry run of a request", "zh-CN": "申请试运行" },
  "policies.loaded": { en: "Policy files loaded", "zh-CN": "加载策略文件" },
  "audit.read": { en: "Audit log read", "zh-CN": "查阅审计日志" },
  "alert.raised": { en: "Alert raised", "zh-CN": "触发告警" },
  "alert.cleared": { en: "Alert cleared", "zh-CN": "解除告警" },
  "audit.opened": { en: "Audit log opened", "zh-CN": "打开审计日志" },
  "audit.checkpoint": { en: "Audit checkpoint", "zh-CN": "审计检查点" },
  "audit.recovered": { en: "Audit log recovered", "zh-CN": "恢复审计日志" },
  "audit.genesis": { en: "Audit log begun", "zh-CN": "审计日志起始" },
  "audit.archived": { en: "Audit log archived", "zh-CN": "归档审计日志" },
};

/** The fields of an alert's `detail`. */
export const DETAILS: Record<string, Words> = {
  classification: { en: "classification", "zh-CN": "数据分级" },
  rows: { en: "rows read", "zh-CN": "读取行数" },
  threshold: { en: "threshold", "zh-CN": "阈值" },
  window: { en: "within", "zh-CN": "时间窗口" },
  local_time: { en: "local time", "zh-CN": "当地时间" },
  control: { en: "control", "zh-CN": "控制项" },
  dataset: { en: "dataset", "zh-CN": "数据集" },
  limit: { en: "limit", "zh-CN": "上限" },
  refusals: { en: "refusals", "zh-CN": "拒绝次数" },
  since: { en: "since", "zh-CN": "起始时间" },
};

/** The classifications that say what a field holds, as a field's label
 * (policies/src/masks.rs masks these by default). */
export const CLASSIFICATIONS: Record<string, Words> = {
  "pii.national_id": { en: "ID number", "zh-CN": "身份证号" },
  "pii.name": { en: "Name", "zh-CN": "姓名" },
  "pii.phone": { en: "Phone", "zh-CN": "电话" },
  "pii.address": { en: "Address", "zh-CN": "住址" },
  "pii.birth_date": { en: "Date of birth", "zh-CN": "出生日期" },
  "pii.gender": { en: "Gender", "zh-CN": "性别" },
};

/** What changed from one version of a contract to the next (`Change::kind`). */
export const CHANGES: Record<string, Words> = {
  field_added: { en: "field added", "zh-CN": "新增字段" },
  field_removed: { en: "field removed", "zh-CN": "删除字段" },
  type: { en: "type", "zh-CN": "类型" },
  nullable: { en: "may be empty", "zh-CN": "可为空" },
  classification: { en: "classification", "zh-CN": "数据分级" },
  description: { en: "description", "zh-CN": "说明" },
  rounding: { en: "rounding", "zh-CN": "舍入方式" },
  title: { en: "title", "zh-CN": "标题" },
  owner: { en: "owner", "zh-CN": "负责人" },
  primary_key: { en: "primary key", "zh-CN": "主键" },
  subject_key: { en: "subject key", "zh-CN": "数据主体标识" },
};
