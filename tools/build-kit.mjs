// Trim Bootstrap Italia to what our pages use: voucher/static/css/kit.min.css.
//
// The vendored kit is 612 KB (90 KB compressed), most of it for components we never show;
// a phone page must stay under 100 KB in all. PurgeCSS keeps the rules whose selectors
// name classes, ids or elements found in our templates and Python code (WTForms classes),
// plus the few built at run time (see `safelist`). Run `make assets` after adding classes:
// tests/test_static.py fails when a class a template uses is missing from the trimmed kit.
//
// Reproducible: pinned PurgeCSS (package-lock.json), sorted inputs, no timestamps.
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { PurgeCSS } from "purgecss";

const KIT = "voucher/static/vendor/bootstrap-italia/css/bootstrap-italia.min.css";
const OUT = "voucher/static/css/kit.min.css";

// HTML that WTForms writes, which no template spells out: the kit styles these by type.
const RENDERED_BY_WTFORMS = `
<form><fieldset><legend></legend><label></label>
<input type="text"><input type="email"><input type="password"><input type="number">
<input type="date"><input type="file"><input type="search"><input type="tel">
<input type="checkbox"><input type="radio"><input type="hidden"><input type="submit">
<select multiple><option selected></option><optgroup></optgroup></select><textarea></textarea>
<ul><li></li></ul><table><caption></caption><thead><tbody><tr><th><td></td></th></tr></tbody></thead></table>
<button disabled></button><small></small><strong></strong><em></em><code></code><pre></pre>
<img><svg></svg><abbr title=""></abbr><hr><dl><dt></dt><dd></dd></dl><nav></nav><p></p>
<h1></h1><h2></h2><h3></h3><h4></h4><h5></h5><h6></h6><a href=""></a><span></span><div></div>
</form>`;

// Globs, expanded by PurgeCSS; the result does not depend on the order of the files.
const content = ["voucher/templates/**/*.html", "voucher/**/*.py"];

const [result] = await new PurgeCSS().purge({
  content: [...content, { raw: RENDERED_BY_WTFORMS, extension: "html" }],
  css: [KIT],
  // Class names put together in templates: alert-{{ category }}, bg-{{ colour }}.
  safelist: {
    standard: [
      /^alert-(success|info|warning|danger)$/,
      /^bg-(primary|secondary|success|danger|warning|info)$/,
      "text-dark",
      "is-invalid",
      "active",
      "show",
      "focus--mouse",
    ],
  },
  fontFace: true,
  keyframes: true,
  variables: true,
  // Keeps :root custom properties referenced by kept rules, and every element selector
  // whose element appears above.
  rejected: false,
});

// Titillium Web, the kit's typeface, in two weights: regular and semibold (bold text uses
// the semibold file; italics are drawn from the regular). Each weight is a download of
// ~18 KB, so the 300, 700 and italic files stay unused. Declared here, not through the
// kit's bootstrap.loadFonts(), so pages need no script. The ?v= fingerprint is the one
// voucher/assets.py gives every static file, so the fonts are cached as immutable too.
const FONTS = "vendor/bootstrap-italia/fonts/Titillium_Web/titillium-web-v10-latin-ext_latin";
const fontFace = [
  [400, "regular"],
  [600, "600"],
]
  .map(([weight, file]) => {
    const path = `${FONTS}-${file}.woff2`;
    const hash = createHash("sha256")
      .update(readFileSync(`voucher/static/${path}`))
      .digest("hex")
      .slice(0, 12);
    return (
      `@font-face{font-family:"Titillium Web";font-style:normal;font-weight:${weight};` +
      `font-display:swap;src:url("../${path}?v=${hash}") format("woff2")}`
    );
  })
  .join("\n");

// Drop the kit's own banner: the licence goes back on top, once.
const css = result.css.replace(/^\uFEFF?\/\*![\s\S]*?\*\//, "").trim();
const banner = readFileSync(KIT, "utf8").match(/\/\*![\s\S]*?\*\//)[0];
writeFileSync(
  OUT,
  `${banner}\n/* Trimmed by tools/build-kit.mjs (PurgeCSS) to the classes this app uses. */\n${fontFace}\n${css}\n`,
);
console.log(`${OUT}: ${Buffer.byteLength(css)} bytes `);
