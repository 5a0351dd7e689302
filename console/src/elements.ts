// The Element Plus components the console uses, and their styles: only these are bundled.
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

export {
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
