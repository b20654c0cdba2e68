// Vite bundles CSS imports; tell the type checker they exist.
declare module "*.css";
