//! What the sign-in page says, in English and in Chinese (zh-CN): the language the browser
//! puts first.

use axum::http::{HeaderMap, header};

/// The page's language: Chinese when the browser prefers it, else English.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Language {
    English,
    Chinese,
}

impl Language {
    pub(super) fn of(headers: &HeaderMap) -> Self {
        let preferred = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(',').next())
            .map(|tag| tag.trim().to_ascii_lowercase());
        match preferred {
            Some(tag) if tag.starts_with("zh") => Self::Chinese,
            _ => Self::English,
        }
    }

    pub(super) fn tag(self) -> &'static str {
        match self {
            Self::English => "en",
            Self::Chinese => "zh-CN",
        }
    }

    pub(super) fn title(self) -> &'static str {
        match self {
            Self::English => "Sign in to Causeway",
            Self::Chinese => "登录 Causeway",
        }
    }

    /// What the person signs in to: the hub's own console by its name, another application
    /// by its client id.
    pub(super) fn intro(self, application: &str) -> String {
        match (self, application) {
            (Self::English, crate::identity::CONSOLE_APPLICATION) => {
                "to continue to the Causeway console".to_owned()
            }
            (Self::Chinese, crate::identity::CONSOLE_APPLICATION) => "以继续使用 Causeway 控制台".to_owned(),
            (Self::English, crate::identity::CLI_APPLICATION) => {
                "to continue to the causeway command line on this computer".to_owned()
            }
            (Self::Chinese, crate::identity::CLI_APPLICATION) => {
                "以继续在本机使用 causeway 命令行".to_owned()
            }
            (Self::English, _) => format!("to continue to {application}"),
            (Self::Chinese, _) => format!("以继续使用 {application}"),
        }
    }

    pub(super) fn username(self) -> &'static str {
        match self {
            Self::English => "User name",
            Self::Chinese => "用户名",
        }
    }

    pub(super) fn password(self) -> &'static str {
        match self {
            Self::English => "Password",
            Self::Chinese => "密码",
        }
    }

    pub(super) fn submit(self) -> &'static str {
        match self {
            Self::English => "Sign in",
            Self::Chinese => "登录",
        }
    }

    pub(super) fn wrong_password(self) -> &'static str {
        match self {
            Self::English => "The user name or password is wrong. Check them and try again.",
            Self::Chinese => "用户名或密码错误，请检查后重试。",
        }
    }

    pub(super) fn rate_limited(self, seconds: u64) -> String {
        match self {
            Self::English => format!("Too many failed attempts. Try again in {seconds} seconds."),
            Self::Chinese => format!("失败次数过多，请在 {seconds} 秒后重试。"),
        }
    }

    pub(super) fn unapproved(self) -> String {
        match self {
            Self::English => {
                "Your account waits for a security administrator's approval. Ask them to approve it, then sign in."
                    .into()
            }
            Self::Chinese => "您的账户正在等待安全管理员批准。请联系其批准后再登录。".into(),
        }
    }

    pub(super) fn separation(self) -> String {
        match self {
            Self::English => {
                "Your account holds roles that must be kept apart. Ask an operator to split it.".into()
            }
            Self::Chinese => "您的账户同时拥有必须分离的角色，请联系运维人员拆分账户。".into(),
        }
    }

    pub(super) fn unavailable(self) -> &'static str {
        match self {
            Self::English => "The hub cannot sign you in right now. Try again in a minute.",
            Self::Chinese => "系统暂时无法登录，请稍后重试。",
        }
    }

    pub(super) fn form_expired(self) -> &'static str {
        match self {
            Self::English => "This sign-in form has expired. Go back to the application and sign in again.",
            Self::Chinese => "登录表单已过期，请返回应用重新登录。",
        }
    }

    pub(super) fn bad_request(self, reason: &str) -> String {
        match self {
            Self::English => format!(
                "The application sent a sign-in request this hub cannot accept: {reason}. Tell the application's administrator."
            ),
            Self::Chinese => format!("应用发送的登录请求无法接受：{reason}。请告知该应用的管理员。"),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn the_language_follows_the_browsers_first_choice() {
        let mut headers = HeaderMap::new();
        assert_eq!(Language::of(&headers), Language::English);
        headers.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("zh-CN,zh;q=0.9,en;q=0.8"),
        );
        assert_eq!(Language::of(&headers), Language::Chinese);
    }
}
