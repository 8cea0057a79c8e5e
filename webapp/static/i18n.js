// OneMap's interface text for the page scripts. The page embeds the scripts' share of the gettext
// catalogues (webapp/script_catalogue.py) as <script type="application/json" id="onemap-catalogue">;
// this reads it and gives the scripts the same calls as the server's code:
//   const { _, ngettext } = window.OneMapI18n;
//   _("Saved: {name} (version {version})", { name, version })
//   ngettext("{n} report waiting to be sent", "{n} reports waiting to be sent", n)
// The English msgid is the text when a message has no translation. `tools/i18n.py extract` finds
// these calls in webapp/static/*.js. Placeholders are {name}, filled as Python's str.format does.
(function () {
  "use strict";
  const node = document.getElementById("onemap-catalogue");
  const data = node ? JSON.parse(node.textContent) : {};
  const messages = data.messages || {};
  const rule = data.plural || { nplurals: 2, one: [1] };
  const numbers = new Intl.NumberFormat(data.locale || "zh-CN");

  function fill(text, values) {
    if (!values) return text;
    return text.replace(/\{\{|\}\}|\{(\w+)\}/g, (match, key) => {
      if (match === "{{") return "{";
      if (match === "}}") return "}";
      return key in values ? String(values[key]) : match;
    });
  }

  // Which plural form n takes: the catalogue carries its rule as data (one form, or two: `one` lists
  // the numbers that take the first).
  function form(n) {
    if (rule.nplurals === 1) return 0;
    return rule.one.includes(n) ? 0 : 1;
  }

  function _(msgid, values) {
    const text = messages[msgid];
    return fill(typeof text === "string" && text ? text : msgid, values);
  }

  // {n} is the number as the language writes it, unless values give n.
  function ngettext(singular, plural, n, values) {
    const forms = messages[singular];
    const text = Array.isArray(forms) && forms[form(n)] ? forms[form(n)] : (n === 1 ? singular : plural);
    return fill(text, Object.assign({ n: typeof n === "number" ? numbers.format(n) : n }, values));
  }

  window.OneMapI18n = { _, ngettext, lang: data.lang || "zh_CN" };
})();
