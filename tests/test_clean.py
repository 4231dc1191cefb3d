"""Each cleaning rule on its own: what it removes, and the look-alike article text it keeps."""

from __future__ import annotations

import pytest

from rag.ingest.clean import (
    RULES,
    CleanResult,
    Removal,
    clean_pdf_pages,
    clean_text,
    find_headings,
    strip_page_furniture,
    unwrap_lines,
)

ARTICLE = "Negotiators from Armenia and Azerbaijan met in Geneva on Tuesday to resume the talks."


def clean(*lines: str, title: str | None = None) -> CleanResult:
    return clean_text("\n".join(lines), title)


def removed_by(result: CleanResult, rule: str) -> list[str]:
    return [r.line for r in result.removed if r.rule == rule]


def kept_lines(result: CleanResult) -> list[str]:
    return [line for line in result.text.split("\n") if line]


def test_every_rule_has_a_docstring_and_unique_name() -> None:
    names = [rule.__name__ for rule in RULES]
    assert len(names) == len(set(names))
    for rule in RULES:
        assert rule.__doc__ and len(rule.__doc__.split()) >= 5, rule.__name__


def test_conversion_notice() -> None:
    notice = (
        "This PDF is auto-generated for reference only. As such, it may contain some "
        "conversion errors and/or missing information. For all formal use please refer to "
        "the official version on the website, as linked below."
    )
    keep = "Officials said the PDF of the treaty was generated from the signed paper copy."
    result = clean(notice, "", keep)
    assert removed_by(result, "conversion_notice") == [notice]
    assert kept_lines(result) == [keep]


def test_cookie_consent() -> None:
    prompt = "By using this site, you agree to the Privacy Policy and Terms of Use."
    keep = "Regulators said many websites use cookies to track readers across borders."
    result = clean(prompt, "Accept", "We use cookies to improve your experience.", "", keep)
    assert removed_by(result, "cookie_consent") == [
        prompt,
        "Accept",
        "We use cookies to improve your experience.",
    ]
    assert kept_lines(result) == [keep]


def test_sign_in_prompt() -> None:
    keep = "He said he had lost his password to the ministry portal and could not sign in."
    result = clean("Welcome Back!", "", "Sign in to your account", "", "Lost your password?", keep)
    assert removed_by(result, "sign_in_prompt") == [
        "Welcome Back!",
        "Sign in to your account",
        "Lost your password?",
    ]
    assert kept_lines(result) == [keep]


def test_share_follow() -> None:
    keep = "Leaders agreed to share the water of the river more fairly between the states."
    result = clean("Follow US", "Share", "Facebook Twitter LinkedIn", "", keep, "Share the Water")
    assert removed_by(result, "share_follow") == ["Follow US", "Share", "Facebook Twitter LinkedIn"]
    assert kept_lines(result) == [keep, "Share the Water"]


def test_site_chrome() -> None:
    chrome = ["Search", "Font ResizerAa", "Azemedia new logo", "aze-media-logo-ag1"]
    keep = "The new logo of the alliance was unveiled at the summit in Baku last week."
    result = clean(*chrome, "Aze.MediaAze.Media", "", keep, "The Search for Peace")
    assert removed_by(result, "site_chrome") == [*chrome, "Aze.MediaAze.Media"]
    assert kept_lines(result) == [keep, "The Search for Peace"]


def test_legal_links() -> None:
    keep = "The new privacy policy of the government was criticised by journalists."
    result = clean(
        "  • Privacy Policy", "Terms and Conditions", "Privacy Policy | Terms of Use", keep
    )
    assert removed_by(result, "legal_links") == [
        "• Privacy Policy",
        "Terms and Conditions",
        "Privacy Policy | Terms of Use",
    ]
    assert kept_lines(result) == [keep]


def test_copyright_footer() -> None:
    keep = "Copyright law in Armenia was reformed in 2006 to align with European standards."
    result = clean("© 2021 Aze.Media – Daily Digest", "All rights reserved.", keep)
    assert removed_by(result, "copyright_footer") == [
        "© 2021 Aze.Media – Daily Digest",
        "All rights reserved.",
    ]
    assert kept_lines(result) == [keep]


def test_contact_email() -> None:
    keep = "Readers wrote to editor@aze.media to complain about the headline, the editor said."
    result = clean("Email: editor@aze.media", "", keep)
    assert removed_by(result, "contact_email") == ["Email: editor@aze.media"]
    assert kept_lines(result) == [keep]


def test_navigation_menu_removes_bullet_runs_but_keeps_markdown_lists() -> None:
    menu = ["  • Home", "  • COP29", "  • Opinion", "    • Economy", "  • Who we are"]
    markdown_list = ["- Armenia", "- Azerbaijan", "- Georgia"]
    result = clean(*menu, "", ARTICLE, "", *markdown_list, "", "  • Armenia signed")
    assert set(removed_by(result, "navigation_menu")) >= {"• COP29", "• Opinion", "• Economy"}
    assert all(r.line in {m.strip() for m in menu} for r in result.removed)
    assert kept_lines(result) == [ARTICLE, *markdown_list, "  • Armenia signed"]


def test_breadcrumb() -> None:
    crumb = "Aze.Media > Opinion > The South Caucasus is set for geopolitical realignment"
    result = clean(crumb, "If turnout > 50% the vote counts", ARTICLE)
    assert removed_by(result, "breadcrumb") == [crumb]
    assert kept_lines(result) == ["If turnout > 50% the vote counts", ARTICLE]


def test_byline() -> None:
    result = clean(
        "Headline of the Piece",
        "  • Iraj Iskenderov",
        "AzeMedia",
        "By AzeMedia Published July 3, 2025 10 Min Read",
        "ALI ASKEROV, AUG 10 2025",
        ARTICLE,
        "Written by Ali Askerov",
        "By 2030, the corridor should carry 15 million tonnes of freight a year.",
        "Written by hand, the letter reached Baku in March.",
    )
    assert removed_by(result, "byline") == [
        "• Iraj Iskenderov",
        "AzeMedia",
        "By AzeMedia Published July 3, 2025 10 Min Read",
        "ALI ASKEROV, AUG 10 2025",
        "Written by Ali Askerov",
    ]
    assert kept_lines(result) == [
        "Headline of the Piece",
        ARTICLE,
        "By 2030, the corridor should carry 15 million tonnes of freight a year.",
        "Written by hand, the letter reached Baku in March.",
    ]


def test_source_url_only_at_the_edges() -> None:
    body = [f"Paragraph {n} of the article says something about the region." for n in range(12)]
    middle = "https://example.org/cited-report"
    result = clean(
        "<https://www.e-ir.info/2025/08/10/opinion/>",
        *body[:9],
        middle,
        *body[9:],
        "https://jam-news.net/a-south-caucasus-alliance/",
    )
    assert removed_by(result, "source_url") == [
        "<https://www.e-ir.info/2025/08/10/opinion/>",
        "https://jam-news.net/a-south-caucasus-alliance/",
    ]
    assert middle in kept_lines(result)


def test_stray_markup() -> None:
    keep = "The <excerpt/> tag is a Jekyll feature, the developers explained in the manual."
    result = clean("<excerpt/>", "<!-- more -->", keep)
    assert removed_by(result, "stray_markup") == ["<excerpt/>", "<!-- more -->"]
    assert kept_lines(result) == [keep]


def test_image_reference_keeps_figure_captions() -> None:
    caption = (
        "_▲ __Figure 1: Political and Military Map of the South Caucasus.__ Source: "
        "Labrang/Wikimedia. Edited by RUSI._"
    )
    result = clean("![image01](https://i.imgur.com/YmknXoW.png)", caption, "", "<img src='a.png'>")
    assert removed_by(result, "image_reference") == [
        "![image01](https://i.imgur.com/YmknXoW.png)",
        "<img src='a.png'>",
    ]
    assert kept_lines(result) == [caption]


@pytest.mark.parametrize(
    "line",
    [
        "Southern caucasus en.1000x0",
        "Armenian pm nikol pashinyan listens to azerbaijani president afp pool.jpg",
        "426082d1 a9e4 4ac5 95d4 4e84024eb314 pojkz91103g6zqfh8kiacu662b2tn9znit7ssu9ekg",
        "1751655102 986642bab4094ba3150a3058f13e4639",
        "Beautiful,national,state,flags,of,iran,and,russia,together,at",
        "Israel Azerbaijan Flag 220323",
        "97033886 tass 16540599",
    ],
)
def test_image_file_name(line: str) -> None:
    assert removed_by(clean(line, "", ARTICLE), "image_file_name") == [line]


@pytest.mark.parametrize("line", ["COP29 Outcomes", "Chapter 12", "The 2020 War and After"])
def test_image_file_name_keeps_headings_with_numbers(line: str) -> None:
    assert kept_lines(clean(line, "", ARTICLE)) == [line, ARTICLE]


def test_photo_credit() -> None:
    keep = "Photographs of the summit were published by the presidency on Friday evening."
    result = clean("Photo: View of the South Caucasus", "Vahram Baghdasaryan/AFP", keep)
    assert removed_by(result, "photo_credit") == [
        "Photo: View of the South Caucasus",
        "Vahram Baghdasaryan/AFP",
    ]
    assert kept_lines(result) == [keep]


def test_page_number() -> None:
    result = clean(
        ARTICLE, "12", "Page 3 of 9", "- 4 -", "1991", ARTICLE.replace("Tuesday", "Monday")
    )
    assert removed_by(result, "page_number") == ["12", "Page 3 of 9", "- 4 -"]
    assert "1991" in kept_lines(result)


def test_publisher_disclaimer_only_at_the_end() -> None:
    disclaimer = (
        "Trajectories is a media project that tells stories of people whose lives have been "
        "impacted by conflicts. The publications on this page are solely the responsibility "
        "of the authors."
    )
    mid = "The court said the decision was solely the responsibility of the ministry of defence."
    result = clean(mid, "", *[ARTICLE] * 3, "", disclaimer, "", "https://jam-news.net/x/")
    assert removed_by(result, "publisher_disclaimer") == [disclaimer]
    assert mid in kept_lines(result)


def test_related_block_ends_where_prose_resumes() -> None:
    result = clean(
        ARTICLE,
        "",
        "You Might Also Like",
        "",
        "Pakistan and Azerbaijan deepen economic ties",
        "",
        "July 8, 2025 9 Min Read",
        "102 base",
        "The Kremlin’s scenario exposed: why Russia is reinforcing its military base in Gyumri",
        "Opinion July 7, 2025",
        "",
        "Delegations will meet again in April to finish the text of the agreement, he said.",
    )
    assert removed_by(result, "related_block") == [
        "You Might Also Like",
        "Pakistan and Azerbaijan deepen economic ties",
        "July 8, 2025 9 Min Read",
        "102 base",
        "The Kremlin’s scenario exposed: why Russia is reinforcing its military base in Gyumri",
        "Opinion July 7, 2025",
    ]
    assert kept_lines(result) == [
        ARTICLE,
        "Delegations will meet again in April to finish the text of the agreement, he said.",
    ]


def test_footer_block_runs_to_the_end_only_near_the_end() -> None:
    about = (
        "We are a unique political and socio-cultural digest offering exclusive materials "
        "and reprints of articles from around the world."
    )
    article = [
        f"Sentence {n} of the article is long enough to count as prose here." for n in range(8)
    ]
    result = clean(*article, "", "Useful links", "", about, "", "Who reads us")
    assert removed_by(result, "footer_block") == ["Useful links", about, "Who reads us"]
    early = clean("Useful links", *article)
    assert kept_lines(early) == ["Useful links", *article]


def test_dateline() -> None:
    keep = "On July 7, 2025 the talks resumed"
    result = clean(
        ARTICLE, "Economy Opinion July 8, 2025", "AzeMedia July 3, 2025 July 3, 2025", keep
    )
    assert removed_by(result, "dateline") == [
        "Economy Opinion July 8, 2025",
        "AzeMedia July 3, 2025 July 3, 2025",
    ]
    assert kept_lines(result) == [ARTICLE, keep]


def test_stray_fragment() -> None:
    result = clean(ARTICLE, "", "commonspace", "", "Armenia", "", "in turn", ARTICLE)
    assert removed_by(result, "stray_fragment") == ["commonspace"]
    assert kept_lines(result) == [ARTICLE, "Armenia", "in turn", ARTICLE]


def test_running_header_keeps_the_headline_once() -> None:
    title = "Opinion – Peace and Power Realignment in the South Caucasus"
    repeated_sentence = "This seems to be changing now and it will change more in the future."
    result = clean(
        title,
        "",
        ARTICLE,
        repeated_sentence,
        "",
        title,
        "",
        "Opinion",
        "* * *",
        repeated_sentence,
        "Opinion",
        "* * *",
    )
    assert removed_by(result, "running_header") == [title, "Opinion", "Opinion"]
    assert kept_lines(result) == [
        title,
        ARTICLE,
        repeated_sentence,
        "* * *",
        repeated_sentence,
        "* * *",
    ]


def test_running_header_uses_the_given_title() -> None:
    result = clean("Peace talks", ARTICLE, "", "Peace talks", ARTICLE, title="Peace talks")
    assert [r.rule for r in result.removed] == ["running_header"]
    assert result.text.count("Peace talks") == 1


def test_clean_text_collapses_blank_lines_and_reports_in_order() -> None:
    result = clean("Search", "", "", "", ARTICLE, "", "", "", "", ARTICLE, "Share")
    assert result.text == f"{ARTICLE}\n\n{ARTICLE}"
    assert result.removed == (Removal("site_chrome", "Search"), Removal("share_follow", "Share"))


def test_clean_text_never_removes_prose_on_generic_grounds() -> None:
    look_alikes = [
        "Search parties found the missing hikers near the border with Georgia on Monday.",
        "Home to nearly three million people, Armenia depends heavily on Russian gas.",
        "Opinion polls in Yerevan show strong support for the peace agreement this year.",
        "Share prices in Baku rose sharply after the announcement of the new pipeline.",
    ]
    lines = [line for sentence in look_alikes for line in (sentence, sentence)]
    assert kept_lines(clean(*lines)) == lines


# --------------------------------------------------------------------------- headings


def test_find_headings_kinds_and_offsets() -> None:
    text = "\n".join(
        [
            "Russia’s zugzwang in the South Caucasus",
            "",
            ARTICLE,
            "",
            "DELAYED RESPONSE FROM THE CSTO",
            "",
            ARTICLE,
            "",
            "### I. Russia’s South Caucasus Strategy",
            ARTICLE,
            "",
            "_Israel and the Gulf States_",
            "",
            "Countries of the South Caucasus",
            "",
            "This seems to be changing now.",
            "",
            "A BREAK HASN’T HAPPENED – WHY?",
            "",
            "_This paper explores the challenge to Russia’s position._",
            "",
            "Not a heading because it sits",
            "inside a paragraph",
        ]
    )
    headings = find_headings(text)
    assert [h for _, h in headings] == [
        "Russia’s zugzwang in the South Caucasus",
        "DELAYED RESPONSE FROM THE CSTO",
        "I. Russia’s South Caucasus Strategy",
        "Israel and the Gulf States",
        "Countries of the South Caucasus",
        "A BREAK HASN’T HAPPENED – WHY?",
    ]
    for offset, heading in headings:
        line = text[offset:].split("\n", 1)[0]
        assert heading in line


# --------------------------------------------------------------------------- PDF text


def test_strip_page_furniture_removes_repeated_headers_and_page_numbers() -> None:
    bodies = [
        "The first page describes the talks in Geneva and the positions of both sides.",
        "The second page turns to the railway through Syunik and the customs regime.",
        "The third page concludes with the prospects for a treaty before the summer.",
    ]
    pages = [
        f"E-International Relations\n{body}\nPage {n} of 3"
        for n, body in enumerate(bodies, start=1)
    ]
    kept, removed = strip_page_furniture(pages)
    assert [r.line for r in removed].count("E-International Relations") == 3
    assert {r.line for r in removed} == {
        "E-International Relations",
        "Page 1 of 3",
        "Page 2 of 3",
        "Page 3 of 3",
    }
    assert [page.strip() for page in kept] == bodies


def test_unwrap_lines_rejoins_paragraphs_and_dehyphenates() -> None:
    page = "\n".join(
        [
            "Introduction",
            "The talks on the demarca-",
            "tion of the border resumed in Geneva on Tuesday after a pause of",
            "nearly a year, officials said.",
            "A second paragraph starts here and runs on for a while across the",
            "line break.",
        ]
    )
    assert unwrap_lines(page) == (
        "Introduction\n\n"
        "The talks on the demarcation of the border resumed in Geneva on Tuesday after a "
        "pause of nearly a year, officials said.\n\n"
        "A second paragraph starts here and runs on for a while across the line break."
    )


def test_clean_pdf_pages_joins_a_paragraph_across_the_page_break() -> None:
    pages = [
        "Journal of Caucasus Studies\nThe mediators said the two delegations agreed on a long\n"
        "timetable for demarcating the border and for",
        "Journal of Caucasus Studies\nopening the railway through the Syunik region by 2027.",
    ]
    result = clean_pdf_pages(pages)
    assert result.text == (
        "The mediators said the two delegations agreed on a long timetable for demarcating "
        "the border and for opening the railway through the Syunik region by 2027."
    )
    assert [r.rule for r in result.removed] == ["page_furniture", "page_furniture"]


def test_overlong_runs_without_a_space_are_dropped_and_counted() -> None:
    hostile = "ab.cd@ef-gh/12," * 10_000
    text = f"Armenia and Azerbaijan signed a declaration in August 2025.\n{hostile} tail\n"
    link = "https://example.org/" + "a" * 400  # a long link is still under the limit
    result = clean_text(text + f"The full text is at {link} for readers.\n")

    assert "signed a declaration" in result.text and link in result.text
    assert "ab.cd@" not in result.text and "tail" in result.text
    (removal,) = [r for r in result.removed if r.rule == "overlong_runs"]
    assert removal.count == 1 and removal.line.startswith("ab.cd@ef-gh")
