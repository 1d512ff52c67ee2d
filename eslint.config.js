import tseslint from "typescript-eslint";

export default tseslint.config({ ignores: ["dist/", "node_modules/", ".bench/", "coverage/"] }, ...tseslint.configs.recommended, {
  rules: {
    "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    "@typescript-eslint/no-non-null-assertion": "off",
  },
});
