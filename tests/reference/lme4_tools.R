# lme4 1.1-31 (Debian r-cran-lme4): fitted(), residuals() of three types, coef(), vcov() and
# anova() of the cbpp binomial GLMM and sleepstudy LMMs; output: lme4_tools.json.
# Run from the repository root:  Rscript tests/reference/lme4_tools.R
suppressMessages({library(lme4); library(jsonlite)})
g <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, binomial)
m0 <- lmer(Reaction ~ Days + (1 | Subject), sleepstudy)
m1 <- lmer(Reaction ~ Days + (Days | Subject), sleepstudy)
a <- anova(m0, m1)  # refits both by ML
out <- list(
  cbpp = list(fitted = unname(fitted(g)),
              response = unname(residuals(g, type = "response")),
              pearson = unname(residuals(g, type = "pearson")),
              deviance = unname(residuals(g, type = "deviance")),
              coef_herd = unname(as.matrix(coef(g)$herd)),
              vcov = unname(as.matrix(vcov(g))),
              z_p_values = unname(summary(g)$coefficients[, 4])),
  sleepstudy = list(fitted = unname(fitted(m1)),
                    pearson = unname(residuals(m1, type = "pearson")),
                    coef_subject = unname(as.matrix(coef(m1)$Subject)),
                    anova_chisq = a$Chisq[2], anova_df = a$Df[2],
                    anova_p = a[["Pr(>Chisq)"]][2], anova_logLik = unname(a$logLik),
                    anova_AIC = unname(a$AIC))
)
write_json(out, "tests/reference/lme4_tools.json", digits = NA, auto_unbox = TRUE,
           pretty = TRUE)
