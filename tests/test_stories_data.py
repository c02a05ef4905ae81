"""Hand-written news texts shared by the story tests (data only, no tests here)."""

from __future__ import annotations

WIRE_TITLE = "Токаев подписал закон о ратификации соглашения по Камбаратинской ГЭС"
WIRE = (
    "Президент Казахстана Касым-Жомарт Токаев подписал закон о ратификации "
    "соглашения с Узбекистаном и Кыргызстаном о строительстве Камбаратинской ГЭС-1, "
    "сообщает пресс-служба Акорды. Документ предусматривает совместное "
    "финансирование проекта стоимостью 5,5 миллиарда долларов и распределение "
    "электроэнергии между тремя странами. По словам министра энергетики Алмасадама "
    "Саткалиева, первые агрегаты станции планируется ввести в эксплуатацию в 2028 "
    "году. Соглашение было подписано главами трех государств в Бишкеке в январе. "
    "Ранее Всемирный банк заявил о готовности выделить средства на "
    "технико-экономическое обоснование проекта. Эксперты отмечают, что станция на "
    "реке Нарын позволит сократить дефицит электроэнергии в регионе в зимний период "
    "и улучшить водоснабжение сельского хозяйства Узбекистана и юга Казахстана в "
    "летние месяцы. Строительство планируется начать уже этой весной."
)
# The same wire copy as two other outlets republished it, with small edits.
WIRE_B_TITLE = "Токаев ратифицировал соглашение о строительстве Камбаратинской ГЭС"
WIRE_B = (
    WIRE.replace("сообщает пресс-служба Акорды", "передает корреспондент агентства")
    .replace("Эксперты отмечают", "Аналитики считают")
    .replace("уже этой весной", "в апреле")
)
WIRE_C_TITLE = "Глава Казахстана подписал закон о Камбаратинской ГЭС"
WIRE_C = "АСТАНА, 12 марта. " + WIRE.replace(
    "Президент Казахстана", "Глава государства"
).replace("первые агрегаты станции", "первые гидроагрегаты").replace(
    " Строительство планируется начать уже этой весной.", ""
)

# A fake translation of WIRE (what the translation stage would store).
WIRE_EN_TITLE = "Tokayev signed the law on ratification of the Kambarata HPP agreement"
WIRE_EN = (
    "President of Kazakhstan Kassym-Jomart Tokayev signed the law on ratification of "
    "the agreement with Uzbekistan and Kyrgyzstan on the construction of the "
    "Kambarata HPP-1, the Akorda press service reports. The document provides for "
    "joint financing of the project worth 5.5 billion dollars and distribution of "
    "electricity between the three countries. According to Energy Minister "
    "Almasadam Satkaliyev, the first units of the station are planned to be put "
    "into operation in 2028. The agreement was signed by the heads of the three "
    "states in Bishkek in January. The World Bank earlier said it was ready to fund "
    "a feasibility study of the project."
)
# An English outlet's own report of the same event (not a translation).
EN_REPORT_TITLE = "Kazakhstan ratifies Kambarata-1 hydropower deal with neighbours"
EN_REPORT = (
    "Kazakh President Kassym-Jomart Tokayev has signed into law the agreement with "
    "Uzbekistan and Kyrgyzstan to build the Kambarata-1 hydropower plant on the "
    "Naryn river in Kyrgyzstan, his office said on Tuesday. The three governments "
    "will share the cost of the $5.5 billion dam and the electricity it produces. "
    "Energy minister Almasadam Satkaliyev told reporters the first turbines should "
    "start running in 2028. The presidents of the three Central Asian states signed "
    "the deal in Bishkek in January, and the World Bank has offered to pay for a "
    "feasibility study. The plant is meant to ease the winter power shortages that "
    "have hit the region and to regulate irrigation water downstream in summer."
)

PROTEST_ALMATY_TITLE = "В Алматы прошел митинг против повышения коммунальных тарифов"
PROTEST_ALMATY = (
    "В Алматы в субботу прошел санкционированный митинг против повышения тарифов на "
    "коммунальные услуги. Около 300 человек собрались в сквере у кинотеатра "
    "«Сарыарка». Участники акции требовали от акимата города отменить рост тарифов "
    "на тепло и горячую воду, вступивший в силу с 1 марта. Полиция следила за "
    "порядком, задержаний не было. Заместитель акима Ерболат Досаев вышел к "
    "митингующим и пообещал создать рабочую группу с участием общественников. "
    "Организаторы заявили, что продолжат акции, если тарифы не будут пересмотрены."
)
PROTEST_BISHKEK_TITLE = (
    "В Бишкеке журналисты вышли на акцию протеста против закона о СМИ"
)
PROTEST_BISHKEK = (
    "В Бишкеке в субботу у здания Жогорку Кенеша прошла акция протеста против "
    "нового закона о средствах массовой информации. Около 150 журналистов и "
    "правозащитников вышли с плакатами, требуя от депутатов отозвать законопроект, "
    "который обязывает интернет-издания проходить перерегистрацию. Милиция следила "
    "за порядком, задержаний не было. Депутат Дастан Бекешев вышел к участникам "
    "акции и пообещал вынести документ на общественное обсуждение. Представители "
    "ОБСЕ ранее призвали власти Кыргызстана учесть мнение медиасообщества."
)

UNRELATED_TITLE = "В Ташкенте открылся новый терминал международного аэропорта"
UNRELATED = (
    "В международном аэропорту Ташкента имени Ислама Каримова открылся новый "
    "терминал пропускной способностью 4 миллиона пассажиров в год. В церемонии "
    "открытия принял участие президент Узбекистана Шавкат Мирзиёев. Строительство "
    "заняло два года, подрядчиком выступила турецкая компания. В терминале "
    "разместятся 40 стоек регистрации и зона беспошлинной торговли."
)
UNRELATED_FOLLOW_UP_TITLE = "Мирзиёев осмотрел новый терминал аэропорта Ташкента"
UNRELATED_FOLLOW_UP = (
    "Президент Узбекистана Шавкат Мирзиёев осмотрел новый терминал международного "
    "аэропорта Ташкента имени Ислама Каримова. Пропускная способность терминала "
    "составляет 4 миллиона пассажиров в год, в нем работают 40 стоек регистрации. "
    "Мирзиёев поручил расширить число прямых рейсов в страны Европы и Азии."
)
